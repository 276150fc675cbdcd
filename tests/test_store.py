from __future__ import annotations

import numpy as np
import pytest

from bench.errors import StoreError
from bench.report import load_report
from bench.store import Store


def new_run(store: Store) -> int:
    return store.create_run("s", "s.yaml", {"name": "s"}, 0, "abc", {"cpus": 2},
                            {"numpy": "2"}, [], 2)


def cell(cell_id: str, status: str = "ok", error: str | None = None) -> dict:
    return {"cell_id": f"model=cnn/defense=none/attack={cell_id}",
            "row_id": "model=cnn/defense=none", "model_id": "cnn", "defense_id": "none",
            "attack_id": cell_id, "attack_name": cell_id.split("[")[0], "samples": 2,
            "status": status, "error": error, "plugins": {}, "params": {"attack": {"eps": 0.1}}}


def test_cells_metrics_timings_and_samples_roundtrip(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    run = new_run(store)
    store.add_row(run, {"row_id": "model=cnn/defense=none", "model_id": "cnn",
                        "defense_id": "none", "status": "ok", "clean_accuracy": 0.9})
    per = {"y": np.array([1, 2]), "clean_pred": np.array([1, 2]), "adv_pred": np.array([0, 2]),
           "success": np.array([True, False]), "l0": np.array([3.0, 0]),
           "l2": np.array([0.5, 0]), "linf": np.array([0.1, 0]),
           "adv_confidence": np.array([0.9, 0.8])}
    store.add_cell(run, cell("fgsm"), {"success_rate": 0.5, "success_denominator_is": "x"},
                   {"generate": 1.25}, per)
    store.add_cell(run, cell("bim", "failed", "boom"), {}, {})
    store.finish_run(run, "finished-with-failures")
    report = load_report(store, None)
    assert report.attack_ids == ["fgsm", "bim"]
    assert report.matrix()[0] == {"model": "cnn", "defense": "none", "clean_accuracy": 0.9,
                                  "fgsm": 0.5, "bim": "FAILED"}
    fgsm = report.cell("model=cnn/defense=none", "fgsm")
    assert fgsm["timings"] == {"generate": 1.25}
    assert fgsm["info"] == {"success_denominator_is": "x"}
    rows = store.samples(fgsm["id"])
    assert [r["adv_pred"] for r in rows] == [0, 2] and rows[0]["success"] == 1
    assert report.failures() == [("model=cnn/defense=none/attack=bim", "boom")]


def test_interrupted_run_keeps_finished_cells(tmp_path):
    path = tmp_path / "r.sqlite"
    store = Store(path)
    run = new_run(store)
    store.add_cell(run, cell("fgsm"), {"success_rate": 1.0}, {"generate": 1.0})
    del store  # the process dies: no finish_run, no close
    reopened = Store(path)
    [r] = reopened.list_runs()
    assert r["status"] == "running" and r["cells_done"] == 1 and r["cells_total"] == 2


def test_duplicate_cell_rolls_back_whole_cell(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    run = new_run(store)
    store.add_cell(run, cell("fgsm"), {"success_rate": 1.0}, {})
    with pytest.raises(StoreError):
        store.add_cell(run, cell("fgsm"), {"success_rate": 0.0}, {})
    assert len(store.cells(run)) == 1
    assert store.cells(run)[0]["metrics"] == {"success_rate": 1.0}


def test_resolve_run_and_errors(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(StoreError, match="holds no runs yet"):
        store.resolve_run(None)
    a, b = new_run(store), new_run(store)
    assert store.resolve_run(None) == b and store.resolve_run("-2") == a
    assert store.resolve_run(str(a)) == a
    with pytest.raises(StoreError, match=r"no run 99 \(runs: 1..2\)"):
        store.resolve_run("99")


def test_corrupt_store_file(tmp_path):
    path = tmp_path / "bad.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as exc:
        Store(path)
    assert str(exc.value).startswith(f"{path}: not a usable result store")
    assert path.read_bytes().startswith(b"this is not a database")


def test_example_images_and_class_names_roundtrip(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    run = store.create_run("s", None, {}, 0, None, {}, {}, [], 1, ["0", "A", "t"])
    rng = np.random.default_rng(0)
    clean = rng.random((3, 28, 28, 1), dtype=np.float32)
    adv = np.clip(clean + 0.001 * np.sign(rng.standard_normal(clean.shape)), 0, 1)
    store.add_cell(run, cell("fgsm"), {}, {}, None, (clean, adv))
    pk = load_report(store, run).cells[0]["id"]
    kept = store.examples(pk)
    assert len(kept) == 3 and kept[0][0].shape == (28, 28, 1)
    # float16 keeps an eps of 0.001 visible: the stored perturbation is the real one
    assert np.abs(kept[1][1] - adv[1]).max() < 5e-4
    assert np.abs((kept[1][1] - kept[1][0]) - (adv[1] - clean[1])).max() < 1e-3
    assert load_report(store, run).run["class_names"] == ["0", "A", "t"]


def test_store_of_schema_version_2_gains_the_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)  # make it look like version 2: drop what version 3 added
    db.execute("ALTER TABLE runs DROP COLUMN class_names_json")
    db.execute("ALTER TABLE samples DROP COLUMN clean_confidence")
    db.execute("DROP TABLE examples")
    db.commit()
    db.close()
    store = Store(path)
    run = new_run(store)
    per = {"y": np.array([1]), "clean_pred": np.array([1]), "adv_pred": np.array([0]),
           "success": np.array([True]), "clean_confidence": np.array([0.7])}
    store.add_cell(run, cell("fgsm"), {}, {}, per, (np.zeros((1, 2, 2, 1)),) * 2)
    pk = load_report(store, run).cells[0]["id"]
    assert store.samples(pk)[0]["clean_confidence"] == pytest.approx(0.7)
    assert len(store.examples(pk)) == 1
    assert load_report(store, run).run["class_names"] is None


def test_robust_accuracy_tiers_worst_case_per_sample(tmp_path):
    """Headline: all attacks on the samples they share; tiers: more samples, fewer attacks."""
    store = Store(tmp_path / "r.sqlite")
    run = new_run(store)
    # sample i is robust to an attack when True; fgsm and bim run on 6 samples, cw on 2
    store.add_cell(run, cell("fgsm"), {}, {}, _per_sample([1, 1, 0, 1, 1, 1]))
    store.add_cell(run, cell("bim"), {}, {}, _per_sample([1, 1, 1, 1, 0, 1]))
    store.add_cell(run, cell("cw"), {}, {}, _per_sample([0, 1]))
    robust = load_report(store, run).robust_accuracy()["model=cnn/defense=none"]
    assert robust["tiers"] == [{"samples": 2, "attacks": 3, "robust_accuracy": 0.5},
                               {"samples": 6, "attacks": 2, "robust_accuracy": 4 / 6}]
    assert robust["robust_accuracy"] == 0.5 and robust["samples"] == 2


def _per_sample(correct_adv: list[bool]) -> dict[str, np.ndarray]:
    y = np.zeros(len(correct_adv), int)
    return {"y": y, "clean_pred": y.copy(), "adv_pred": np.where(correct_adv, 0, 1),
            "success": ~np.array(correct_adv, bool)}
