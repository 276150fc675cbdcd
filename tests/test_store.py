from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bench.errors import StoreError
from bench.results.model import load_report
from bench.results.store import ADDED_COLUMNS, APPLICATION_ID, SCHEMA_VERSION, Store


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


def test_writing_a_cell_twice_keeps_the_first_write_whole(tmp_path):
    """Idempotent writes: a cell written again (a retried task) changes nothing, its metrics,
    timings and samples included."""
    store = Store(tmp_path / "r.sqlite")
    run = new_run(store)
    store.add_cell(run, cell("fgsm"), {"success_rate": 1.0}, {"generate": 1.0})
    store.add_cell(run, cell("fgsm"), {"success_rate": 0.0, "l2_mean": 3.0},
                   {"generate": 9.0, "evaluate": 1.0})
    [stored] = store.cells(run)
    assert stored["metrics"] == {"success_rate": 1.0}
    assert stored["timings"] == {"generate": 1.0}
    store.add_row(run, {"row_id": "r", "model_id": "m", "defense_id": "d", "status": "ok",
                        "clean_accuracy": 0.5})
    store.add_row(run, {"row_id": "r", "model_id": "m", "defense_id": "d", "status": "failed",
                        "error": "again"})
    assert [(r["status"], r["clean_accuracy"]) for r in store.rows(run)] == [("ok", 0.5)]


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
    assert str(exc.value) == (f"{path}: not an artbench result store (not an SQLite "
                              "database); left unchanged")
    assert path.read_bytes() == b"this is not a database" * 100


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


def make_v2_store(path: Path) -> None:
    """A store as schema version 2 made it: no application id, none of the later columns."""
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA application_id = 0")
    for _, table, column, _ in ADDED_COLUMNS[2:]:
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.execute("DROP TABLE examples")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()


def test_store_of_schema_version_2_gains_the_new_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    make_v2_store(path)
    store = Store(path)
    assert store.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    run = new_run(store)
    per = {"y": np.array([1]), "clean_pred": np.array([1]), "adv_pred": np.array([0]),
           "success": np.array([True]), "clean_confidence": np.array([0.7])}
    store.add_cell(run, cell("fgsm"), {}, {}, per, (np.zeros((1, 2, 2, 1)),) * 2)
    pk = load_report(store, run).cells[0]["id"]
    assert store.samples(pk)[0]["clean_confidence"] == pytest.approx(0.7)
    assert len(store.examples(pk)) == 1
    assert load_report(store, run).run["class_names"] is None


def make_v4_store(path: Path) -> None:
    """A store as schema version 4 made it: no ``runs.shard``."""
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE runs DROP COLUMN shard")
    db.execute("INSERT INTO runs (suite_name, suite_json, status, started, cells_total)"
               " VALUES ('s', '{}', 'finished', 'then', 1)")
    db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    checkpointed(path)


def test_store_of_schema_version_4_gains_the_shard_column(tmp_path):
    path = tmp_path / "v4.sqlite"
    make_v4_store(path)
    before = path.read_bytes()
    reader = Store(path, readonly=True)  # read through a view: shard NULL, file unchanged
    assert [r["shard"] for r in reader.list_runs()] == [None]
    reader.close()
    assert path.read_bytes() == before
    store = Store(path)
    assert "shard" in {r[1] for r in store.conn.execute("PRAGMA table_info(runs)")}
    assert store.conn.execute("SELECT value FROM meta").fetchone()[0] == "6" == str(
        SCHEMA_VERSION)
    run = store.create_run("s", None, {}, 0, None, {}, {}, [], 1, shard="1/3")
    assert [r["shard"] for r in store.list_runs()] == [None, "1/3"]
    assert store.run(run)["shard"] == "1/3"


def test_transaction_commits_every_write_or_none(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    run = new_run(store)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_cell(run, cell("fgsm"), {"success_rate": 1.0}, {})
            store.finish_run(run, "finished")  # its own commit is deferred to the end
            raise RuntimeError("later failure")
    assert store.cells(run) == [] and store.run(run)["status"] == "running"
    with store.transaction():
        store.add_cell(run, cell("fgsm"), {"success_rate": 1.0}, {})
        store.finish_run(run, "finished")
    other = Store(tmp_path / "r.sqlite", readonly=True)
    assert len(other.cells(run)) == 1 and other.run(run)["status"] == "finished"
    # a write error inside is one StoreError, and the store stays usable
    with pytest.raises(StoreError, match="write failed"):
        with store.transaction():
            store.add_cell(run, cell("bim"), {}, {})
            store.add_cell(run, {**cell("pgd"), "attack_name": None}, {}, {})  # NOT NULL
    assert [c["attack_id"] for c in store.cells(run)] == ["fgsm"]
    store.add_cell(run, cell("bim"), {}, {})
    assert len(store.cells(run)) == 2


def test_robust_accuracy_tiers_worst_case_per_sample(tmp_path):
    """Headline: all attacks on the samples they share; tiers: more samples, fewer attacks."""
    store = Store(tmp_path / "r.sqlite")
    run = new_run(store)
    # sample i is robust to an attack when True; fgsm and bim run on 6 samples, cw on 2
    store.add_cell(run, cell("fgsm"), {}, {}, _per_sample([1, 1, 0, 1, 1, 1]))
    store.add_cell(run, cell("bim"), {}, {}, _per_sample([1, 1, 1, 1, 0, 1]))
    store.add_cell(run, cell("cw"), {}, {}, _per_sample([0, 1]))
    robust = load_report(store, run).robust_accuracy()["model=cnn/defense=none"]
    assert [{k: t[k] for k in ("samples", "attacks", "robust_accuracy")}
            for t in robust["tiers"]] == [{"samples": 2, "attacks": 3, "robust_accuracy": 0.5},
                                          {"samples": 6, "attacks": 2, "robust_accuracy": 4 / 6}]
    assert robust["robust_accuracy"] == 0.5 and robust["samples"] == 2


def _per_sample(correct_adv: list[bool]) -> dict[str, np.ndarray]:
    y = np.zeros(len(correct_adv), int)
    return {"y": y, "clean_pred": y.copy(), "adv_pred": np.where(correct_adv, 0, 1),
            "success": ~np.array(correct_adv, bool)}


# ---- identity, read-only opening --------------------------------------------------------


def foreign_db(path: Path) -> bytes:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")  # a common name
    db.execute("INSERT INTO meta VALUES ('schema_version', '7')")
    db.execute("INSERT INTO notes (text) VALUES ('hello')")
    db.commit()
    db.close()
    return path.read_bytes()


def test_new_store_carries_the_application_id(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    assert store.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert store.conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)


@pytest.mark.parametrize("readonly", [False, True])
def test_foreign_database_is_refused_and_left_byte_identical(tmp_path, readonly):
    path = tmp_path / "other-app.sqlite"
    before = foreign_db(path)
    with pytest.raises(StoreError) as exc:
        Store(path, readonly=readonly)
    assert str(exc.value) == (f"{path}: not an artbench result store (an SQLite database of "
                              "another application); left unchanged")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-app.sqlite"]


def test_foreign_application_id_is_refused(tmp_path):
    path = tmp_path / "x.sqlite"
    Store(path).close()  # all our tables, but another application's id
    db = sqlite3.connect(path)
    db.execute("PRAGMA application_id = 1234")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="another application"):
        Store(path, readonly=True)


def test_reading_a_missing_or_empty_store_creates_nothing(tmp_path):
    missing = tmp_path / "typo" / "store.sqlite"
    with pytest.raises(StoreError) as exc:
        Store(missing, readonly=True)
    assert str(exc.value) == f"{missing}: no result store here (bench run creates one)"
    assert not (tmp_path / "typo").exists()
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(StoreError, match="empty file, no result store yet"):
        Store(empty, readonly=True)
    assert empty.read_bytes() == b""
    Store(empty).close()  # bench run may use an empty file
    assert Store(empty, readonly=True).list_runs() == []


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    for readonly in (True, False):
        with pytest.raises(StoreError) as exc:
            Store(path, readonly=readonly)
        assert str(exc.value) == (f"{path}: result store of schema version 99, newer than "
                                  f"this artbench reads ({SCHEMA_VERSION}); upgrade artbench")


def checkpointed(path: Path) -> None:
    """As a finished ``bench run`` leaves it: the log folded in, no side files."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for side in ("-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)


def test_readonly_store_refuses_writes_and_creates_no_side_files(tmp_path):
    path = tmp_path / "r.sqlite"
    store = Store(path)
    new_run(store)
    store.close()
    checkpointed(path)
    before = path.read_bytes()
    ro = Store(path, readonly=True)
    assert [r["id"] for r in ro.list_runs()] == [1]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.conn.execute("DELETE FROM runs")
    ro.close()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.sqlite"]


def test_readonly_store_sees_cells_of_a_live_writer(tmp_path):
    """A run in progress keeps its cells in the write-ahead log: a reader must see them."""
    path = tmp_path / "r.sqlite"
    writer = Store(path)
    run = new_run(writer)
    writer.add_cell(run, cell("fgsm"), {"success_rate": 0.5}, {})
    reader = Store(path, readonly=True)
    [r] = reader.list_runs()
    assert (r["status"], r["cells_done"]) == ("running", 1)  # this process drives it: alive
    assert reader.warning is None
    writer.close()


def test_older_schema_is_read_without_migrating(tmp_path):
    path = tmp_path / "old.sqlite"
    make_v2_store(path)
    db = sqlite3.connect(path)
    db.execute("INSERT INTO runs (suite_name, suite_json, status, started, cells_total)"
               " VALUES ('s', '{}', 'finished', 'then', 1)")
    db.execute("INSERT INTO cells (run_id, cell_id, row_id, model_id, defense_id, attack_id,"
               " attack_name, plugins_json, params_json, samples, status, finished)"
               " VALUES (1, 'model=cnn/defense=none/attack=fgsm', 'model=cnn/defense=none',"
               " 'cnn', 'none', 'fgsm', 'fgsm', '{}', '{}', 1, 'ok', 'then')")
    db.execute("INSERT INTO samples (cell, idx, label, clean_pred, adv_pred)"
               " VALUES (1, 0, 1, 1, 0)")
    db.commit()
    db.close()
    checkpointed(path)
    before = path.read_bytes()
    store = Store(path, readonly=True)
    report = load_report(store, None)
    assert report.run["class_names"] is None and report.run["planned"] is None
    assert store.samples(1)[0]["clean_confidence"] is None
    assert store.examples(1) == []
    assert not report.incomplete and report.incomplete_notice() is None
    store.close()
    assert path.read_bytes() == before


def test_damaged_page_is_one_error(tmp_path):
    path = tmp_path / "r.sqlite"
    store = Store(path)
    run = new_run(store)
    for i in range(200):
        store.add_cell(run, cell(f"a{i}"), {"success_rate": 0.5}, {"generate": 1.0})
    store.close()
    checkpointed(path)
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(3 * page, len(data), page):  # overwrite every page after the first 3
        data[start:start + page] = b"\xff" * page
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as exc:
        ro = Store(path, readonly=True)
        with ro.reading():
            load_report(ro, None)
    assert str(exc.value).startswith(f"{path}: damaged result store (")


# ---- run status -------------------------------------------------------------------------


def dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def set_driver(path: Path, **fields) -> None:
    db = sqlite3.connect(path)
    for k, v in fields.items():
        db.execute(f"UPDATE runs SET {k} = ?", (v,))
    db.commit()
    db.close()


def test_a_running_run_whose_driver_is_gone_reads_as_interrupted(tmp_path):
    import os
    import socket

    from bench.results.store import proc_start

    path = tmp_path / "r.sqlite"
    store = Store(path)
    new_run(store)
    store.close()
    [r] = Store(path, readonly=True).list_runs()
    assert (r["driver_pid"], r["driver_host"]) == (os.getpid(), socket.gethostname())
    assert r["driver_start"] == proc_start(os.getpid()) and r["status"] == "running"
    set_driver(path, driver_pid=dead_pid())
    [r] = Store(path, readonly=True).list_runs()
    assert (r["status"], r["recorded_status"]) == ("interrupted", "running")
    # a reused pid: alive, but started at another time than the driver
    set_driver(path, driver_pid=os.getpid(), driver_start=1)
    assert Store(path, readonly=True).run(1)["status"] == "interrupted"
    # on another host nothing can be told
    set_driver(path, driver_pid=dead_pid(), driver_host="elsewhere")
    assert Store(path, readonly=True).run(1)["status"] == "running"
    # reading never writes the computed status back
    assert sqlite3.connect(path).execute("SELECT status FROM runs").fetchone()[0] == "running"


def test_missing_cells_are_named_and_capped(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    planned = [cell(f"a{i}")["cell_id"] for i in range(14)]
    run = store.create_run("s", None, {}, 0, None, {}, {}, [], len(planned), cell_ids=planned)
    store.add_cell(run, cell("a0"), {"success_rate": 1.0}, {})
    store.finish_run(run, "interrupted")
    report = load_report(store, run)
    assert report.incomplete and report.missing_cells() == planned[1:]
    assert report.incomplete_notice() == (
        "Run 1 is incomplete (interrupted): 13 of 14 cells missing: "
        + ", ".join(planned[1:11]) + " ... and 3 more")
    c = report.completeness()
    assert (c["listed"], c["more"], c["missing_count"]) == (planned[1:11], 3, 13)
    assert report.to_dict()["completeness"]["missing"] == planned[1:]


# ---- a real run ended by a signal -------------------------------------------------------


def _start_slow_run(tmp_path: Path):
    """``bench run`` of eight slow cells; returns once one cell is stored."""
    import os
    import subprocess
    import sys
    import time

    from tests.helpers import DATA, REPO_ROOT

    env = {**os.environ, "ARTBENCH_STORE": str(tmp_path / "store.sqlite"),
           "ARTBENCH_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", str(DATA / "tiny.yaml"), "--quiet", "--set",
         "attacks=[{name: bim, params: {eps: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4],"
         " max_iter: 150}}]", "--set", "evaluation.samples=48"],
        env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    done = 0
    while time.monotonic() < deadline and proc.poll() is None and done < 1:
        time.sleep(0.5)
        try:
            db = sqlite3.connect(f"file:{tmp_path / 'store.sqlite'}?mode=ro", uri=True,
                                 timeout=1)
            done = db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
            db.close()
        except sqlite3.Error:
            continue
    assert proc.poll() is None and done >= 1, "the run ended before it could be stopped"
    return proc, env


def _bench(env, *args):
    import subprocess
    import sys

    from tests.helpers import REPO_ROOT

    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, env=env, cwd=REPO_ROOT, timeout=300)


def test_sigterm_marks_the_run_interrupted_and_keeps_its_cells(tmp_path):
    import signal

    proc, env = _start_slow_run(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == "terminated (SIGTERM): finished cells are stored"
    db = sqlite3.connect(tmp_path / "store.sqlite")
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    cells = db.execute("SELECT status FROM cells").fetchall()
    assert 1 <= len(cells) < 8 and all(s == ("ok",) for s in cells)
    report = _bench(env, "report", "-f", "markdown")
    assert report.returncode == 0, report.stderr
    assert f"> **Incomplete run.** Run 1 is incomplete (interrupted): {8 - len(cells)} of 8 " \
           "cells missing: model=cnn/defense=none/attack=bim[eps=" in report.stdout


def test_sigkill_leaves_running_but_readers_show_interrupted(tmp_path):
    import signal

    proc, env = _start_slow_run(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)  # reaped: the pid is gone, not a zombie
    path = tmp_path / "store.sqlite"
    files = sorted(p.name for p in tmp_path.iterdir())
    # the -shm file is SQLite's shared-memory index of the log: a reader of a killed writer's
    # log rebuilds it (no data); the database and its log must stay byte-identical
    sizes = {p.name: p.read_bytes() for p in tmp_path.iterdir()
             if p.is_file() and not p.name.endswith("-shm")}
    runs = _bench(env, "runs")
    assert runs.returncode == 0, runs.stderr
    assert " interrupted " in runs.stdout and "/8 " in runs.stdout
    assert "recorded as running, but its process (pid" in runs.stdout
    report = _bench(env, "report")
    assert report.returncode == 0, report.stderr
    assert "Run 1 is incomplete (interrupted: its process is gone):" in report.stdout
    assert "cells missing: model=cnn/defense=none/attack=bim[eps=" in report.stdout
    csv = _bench(env, "report", "-f", "csv").stdout.splitlines()
    assert len(csv) == 9 and csv[-1].endswith(",missing,not run: the run is interrupted,,"
                                              + "," * (csv[0].count(",") - 8))
    cmp = _bench(env, "compare", "1", "1", "--format", "json")
    assert cmp.returncode == 0 and "Run 1 is incomplete" in cmp.stderr
    # the readers wrote nothing: the database still says running, no file changed
    assert sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute(
        "SELECT status FROM runs").fetchone()[0] == "running"
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()
            if p.is_file() and not p.name.endswith("-shm")} == sizes
    assert "store.sqlite-wal" in sizes  # the killed run's log was there, and was read


def test_every_report_format_says_the_run_is_incomplete(tmp_path):
    import json

    from bench_builtin.reporters import Csv, Json, Markdown

    from bench.render.benchjson import benchmark_json
    from bench.render.html import render_report

    store = Store(tmp_path / "r.sqlite")
    planned = [cell(f"a{i}")["cell_id"] for i in range(13)]
    run = store.create_run("s", None, {}, 0, None, {}, {}, [], len(planned), cell_ids=planned)
    store.add_cell(run, cell("a0"), {"success_rate": 1.0}, {"generate": 1.0})
    store.finish_run(run, "interrupted")
    report = load_report(store, run)
    notice = report.incomplete_notice()
    assert notice.endswith(" ... and 2 more")
    md = Markdown(Markdown.Params()).render(report)
    assert f"> **Incomplete run.** {notice}" in md
    lines = Csv(Csv.Params()).render(report).splitlines()
    assert len(lines) == 1 + 13
    assert lines[-1].startswith("1,model=cnn/defense=none/attack=a12,cnn,none,a12,missing,"
                                "not run: the run is interrupted,")
    data = json.loads(Json(Json.Params()).render(report))
    assert data["completeness"]["missing"] == planned[1:]
    assert data["completeness"]["incomplete"] is True
    html = render_report(report)
    assert 'id="incomplete"' in html and "12 of 13 cells missing" in html
    assert "<code>model=cnn/defense=none/attack=a10</code>" in html
    assert "and 2 more" in html
    bench = benchmark_json(report)["benchmarks"][0]["extra_info"]
    assert (bench["run_status"], bench["run_incomplete"]) == ("interrupted", True)
    store.finish_run(run, "finished")  # a complete run says nothing of the kind
    complete = load_report(store, run)
    complete.run = dataclasses.replace(complete.run, planned=[planned[0]])
    assert "Incomplete" not in Markdown(Markdown.Params()).render(complete)
    assert 'id="incomplete"' not in render_report(complete)
