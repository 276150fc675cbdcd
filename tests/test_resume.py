"""`bench run --resume`: a run killed with SIGKILL is finished in place; its cells equal those of
an uninterrupted run, every planned cell stored exactly once, nothing trained again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import DATA, REPO_ROOT

TINY = str(DATA / "tiny.yaml")
#: two rows (none, distillation) x three BIM cells of about a second each, plus transfer from
#: the undefended row: 9 cells, long enough to be killed between two of them
GRID = ["--set", "defenses=[{name: none}, {name: distillation, params: {temperature: 10}}]",
        "--set", "attacks=[{name: bim, params: {eps: [0.1, 0.2, 0.3], max_iter: 40}}]",
        "--set", "transfer=[{source: {defense: none}}]",
        "--set", "evaluation.samples=32"]


def env(store: Path, cache: Path) -> dict[str, str]:
    return {**os.environ, "ARTBENCH_STORE": str(store), "ARTBENCH_CACHE_DIR": str(cache)}


def bench(*args: str, store: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, env=env(store, cache), cwd=REPO_ROOT, timeout=900)


def cells(store: Path) -> dict[str, tuple[str, dict[str, float]]]:
    db = sqlite3.connect(store)
    out: dict[str, tuple[str, dict[str, float]]] = {}
    for pk, cell_id, status in db.execute("SELECT id, cell_id, status FROM cells"):
        assert cell_id not in out, f"{cell_id} stored twice"
        metrics = dict(db.execute("SELECT name, value FROM metrics WHERE cell = ?", (pk,)))
        out[cell_id] = (status, metrics)
    return out


def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    cache = tmp_path / "cache"
    reference = bench("run", TINY, "--quiet", *GRID, store=tmp_path / "ref.sqlite", cache=cache)
    assert reference.returncode == 0, reference.stderr
    expected = cells(tmp_path / "ref.sqlite")
    assert len(expected) == 9

    store = tmp_path / "store.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", TINY, "--quiet", *GRID],
                            env=env(store, cache), cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline, done = time.monotonic() + 300, 0
    while time.monotonic() < deadline and proc.poll() is None and not done:
        time.sleep(0.2)
        if store.exists():
            try:
                db = sqlite3.connect(store, timeout=1)
                done = db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
                db.close()
            except sqlite3.OperationalError:
                continue
    assert proc.poll() is None and 1 <= done < 9, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    db = sqlite3.connect(store)
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "running"
    before = set(db.execute("SELECT id, cell_id, finished FROM cells"))
    db.close()
    assert 1 <= len(before) < 9

    resumed = bench("run", TINY, "--resume", *GRID, store=store, cache=cache)
    assert resumed.returncode == 0, resumed.stderr
    # a white-box cell is kept only with its transfer cells (they need its adversarial
    # examples): a kill between the two computes the pair again
    db = sqlite3.connect(store)
    kept = before & set(db.execute("SELECT id, cell_id, finished FROM cells"))
    db.close()
    ids = {cid for _, cid, _ in kept}
    for cid in ids:
        if "/source=" in cid:  # .../attack=A/source=M|D comes from model=M/defense=D/attack=A
            attack, source = cid.split("/attack=", 1)[1].split("/source=")
            model, defense = source.split("|", 1)
            assert f"model={model}/defense={defense}/attack={attack}" in ids
    assert f"resuming run 1: {len(kept)} of 9 cells stored" in resumed.stderr.replace("\n", " ")
    db = sqlite3.connect(store)
    assert db.execute("SELECT id, status FROM runs").fetchall() == [(1, "finished")]
    planned = json.loads(db.execute("SELECT planned_json FROM runs").fetchone()[0])
    rows = db.execute("SELECT row_id, status FROM rows ORDER BY row_id").fetchall()
    training = [json.loads(t) for (t,) in db.execute("SELECT training_json FROM rows")]
    db.close()
    got = cells(store)
    assert sorted(got) == sorted(planned) == sorted(expected)
    assert got == expected  # same statuses and metrics, cell by cell
    assert [s for _, s in rows] == ["ok", "ok"]
    # the networks came from the cache: trained by the reference run only
    assert all(r["cached"] for records in training for r in records)
    assert "train cnn" not in resumed.stderr

    again = bench("run", TINY, "--quiet", "--resume", "1", *GRID, store=store, cache=cache)
    assert again.returncode == 0, again.stderr
    assert cells(store) == expected


def test_a_run_whose_driver_is_alive_is_not_resumed(tmp_path):
    """This process creates the run, so its driver is alive: --resume must not touch it."""
    import socket

    import pytest

    from bench.errors import StoreError
    from bench.results.store import Store
    from bench.resume import find_run
    from bench.suite import load_suite

    suite, _ = load_suite(TINY)
    store = Store(tmp_path / "s.sqlite")
    run_id = store.create_run(suite.name, TINY, suite.model_dump(mode="json"), 0, None, {}, {},
                              [], 2)
    with pytest.raises(StoreError) as exc:
        find_run(store, suite, None)
    assert str(exc.value) == (f"--resume: run {run_id} is still running (pid {os.getpid()} on "
                              f"{socket.gethostname()})")
    store.finish_run(run_id, "interrupted")
    assert find_run(store, suite, None) == run_id == find_run(store, suite, str(run_id))


def test_a_run_killed_while_training_resumes_and_trains_the_lost_network(tmp_path):
    """SIGKILL while the first network trains: nothing half-written reaches the cache (its
    files are renamed into place only once complete), and --resume trains it and runs every
    cell once."""
    cache, store = tmp_path / "cache", tmp_path / "store.sqlite"
    grid = ["--set", "models[0].params.epochs=8", "--set", "evaluation.samples=16"]
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", TINY, "--quiet", *grid],
                            env=env(store, cache), cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(cache.glob("*/*.lock")) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the epochs
    assert proc.poll() is None and not list(cache.glob("*/*.keras")), "trained before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not list(cache.glob("*/*.keras")) and not list(cache.glob("*/*.json"))
    db = sqlite3.connect(store)
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "running"
    assert db.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 0
    db.close()

    resumed = bench("run", TINY, "--resume", "--quiet", *grid, store=store, cache=cache)
    assert resumed.returncode == 0, resumed.stderr
    got = cells(store)
    assert sorted(got) == ["model=cnn/defense=none/attack=fgsm[eps=0.1]",
                           "model=cnn/defense=none/attack=fgsm[eps=0.3]"]
    assert all(status == "ok" for status, _ in got.values())
    db = sqlite3.connect(store)
    [(training,)] = db.execute("SELECT training_json FROM rows").fetchall()
    assert db.execute("SELECT id, status FROM runs").fetchall() == [(1, "finished")]
    assert [r["cached"] for r in json.loads(training)] == [False]
    assert len(list(cache.glob("*/*.keras"))) == 1


def test_a_run_killed_inside_a_store_write_keeps_a_sound_store_and_resumes(tmp_path):
    """SIGKILL inside the third cell's transaction (its row and metrics inserted, not
    committed): the store opens, passes SQLite's integrity check and holds the two committed
    cells; --resume stores every cell once, as an uninterrupted run does."""
    cache = tmp_path / "cache"
    grid = [*GRID, "--set", "attacks=[{name: fgsm, params: {eps: [0.1, 0.2, 0.3]}}]"]
    reference = bench("run", TINY, "--quiet", *grid, store=tmp_path / "ref.sqlite", cache=cache)
    assert reference.returncode == 0, reference.stderr
    store = tmp_path / "store.sqlite"
    plugin = str(DATA / "plugins" / "die_in_write.py")
    killed = subprocess.run([sys.executable, "-m", "bench", "run", TINY, "--quiet", *grid,
                             "-p", plugin], env={**env(store, cache), "DIE_IN_WRITE": "3"},
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert db.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM metrics WHERE cell NOT IN (SELECT id FROM cells)"
                      ).fetchone()[0] == 0
    db.close()
    resumed = bench("run", TINY, "--quiet", "--resume", *grid, store=store, cache=cache)
    assert resumed.returncode == 0, resumed.stderr
    assert cells(store) == cells(tmp_path / "ref.sqlite")
