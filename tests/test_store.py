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
