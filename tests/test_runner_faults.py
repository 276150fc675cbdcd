"""Misbehaving plugins in real tiny runs: each fails only its own cell, row or hook (issue 7)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import DATA, REPO_ROOT

TINY = str(DATA / "tiny.yaml")
MISBEHAVING = str(DATA / "plugins" / "misbehaving.py")
INPLACE = str(DATA / "plugins" / "inplace_attack.py")
SMALL = ["--set", "evaluation.samples=8"]


def at(code: str) -> str:
    """``misbehaving.py:LINE`` of the line of the plugin holding ``code``."""
    lines = Path(MISBEHAVING).read_text().splitlines()
    line = next(i for i, ln in enumerate(lines, 1) if ln.strip().startswith(code))
    return f"misbehaving.py:{line}"


def bench(*args: str, tmp: Path, cache: Path, env: dict[str, str] | None = None,
          ) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "ARTBENCH_STORE": str(tmp / "store.sqlite"),
                "ARTBENCH_CACHE_DIR": str(cache), "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, env=full_env, cwd=REPO_ROOT, timeout=600)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def cells(tmp: Path) -> dict[str, dict]:
    report = bench("report", "-f", "json", tmp=tmp, cache=tmp / "unused")
    assert report.returncode == 0, report.stderr
    return {c["attack_id"]: c for c in json.loads(report.stdout)["cells"]}


def samples(tmp: Path, attack_id: str) -> list[tuple]:
    db = sqlite3.connect(tmp / "store.sqlite")
    return db.execute("SELECT s.idx, s.adv_pred, s.l2, s.linf FROM samples s JOIN cells c "
                      "ON c.id = s.cell WHERE c.attack_id = ? ORDER BY s.idx",
                      (attack_id,)).fetchall()


def test_faulty_attacks_fail_their_cells_and_leave_the_others_untouched(tmp_path, cache):
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    res = bench("run", TINY, "--quiet", *SMALL, tmp=clean, cache=cache)
    assert res.returncode == 0, res.stderr
    attacks = ("attacks=[{name: fgsm, params: {eps: 0.1}}, {name: inplace}, "
               "{name: inplace-forced}, {name: exit}, {name: interrupt}, {name: nan-bound}, "
               "{name: bad-init}, {name: fgsm, params: {eps: 0.3}}]")
    res = bench("run", TINY, "--quiet", *SMALL, "-p", MISBEHAVING, "-p", INPLACE,
                "--set", attacks, tmp=dirty, cache=cache)
    assert res.returncode == 1, res.stderr  # the run went on to its end, cells failed
    assert "6 of 8 cells failed" in res.stdout
    got = cells(dirty)
    errors = {a: c["error"] for a, c in got.items() if c["status"] != "ok"}
    assert errors == {
        # the plain in-place write hits a read-only array: the cell fails, nothing is changed
        "inplace": "ValueError: output array is read-only (inputs handed to plugins are "
                   "read-only: copy an array before changing it)",
        # forcing the flag writes only into the attack's private copy, and is noticed
        "inplace-forced": "the attack changed its (read-only) input x in place",
        "exit": f"plugin raised SystemExit(3) at {at('sys.exit(3)')}",
        "interrupt": f"plugin raised KeyboardInterrupt() at {at('raise KeyboardInterrupt')}",
        "nan-bound": "bound() returned eps=nan: eps must be a finite number >= 0",
        "bad-init": "attack 'bad-init' failed in __init__: RuntimeError: no GPU here",
    }
    # every failure is one stderr line, --quiet or not
    assert [ln.split(": ", 1)[1] for ln in res.stderr.splitlines() if ln.startswith("FAILED")] \
        == list(errors.values())
    # the cells after the writers see the same data as in a run without them
    ref = cells(clean)
    for attack in ("fgsm[eps=0.1]", "fgsm[eps=0.3]"):
        assert got[attack]["metrics"] == ref[attack]["metrics"], attack
        assert samples(dirty, attack) == samples(clean, attack), attack
    db = sqlite3.connect(dirty / "store.sqlite")
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "finished-with-failures"


def test_faulty_defense_and_model_fail_their_rows_only(tmp_path, cache):
    exit_defense = at('sys.exit("defense')
    res = bench("run", TINY, "--quiet", *SMALL, "-p", MISBEHAVING,
                "--set", "defenses=[{name: none}, {name: bad-init}, {name: exit}]",
                tmp=tmp_path, cache=cache)
    assert res.returncode == 1, res.stderr
    db = sqlite3.connect(tmp_path / "store.sqlite")
    rows = dict(db.execute("SELECT defense_id, status || ': ' || COALESCE(error, '') FROM rows"))
    assert rows == {
        "none": "ok: ",
        "bad-init": "failed: defense 'bad-init' failed in __init__: ValueError: defense cannot "
                    "start",
        "exit": "failed: training/defense failed: plugin raised SystemExit('defense gave up') "
                f"at {exit_defense}",
    }
    res = bench("run", TINY, "--quiet", *SMALL, "-p", MISBEHAVING,
                "--set", "models=[{name: bad-init}]", tmp=tmp_path, cache=cache)
    assert res.returncode == 1, res.stderr
    assert res.stderr.splitlines()[0] == (
        "FAILED model=bad-init/defense=none/attack=fgsm[eps=0.1]: model 'bad-init' failed in "
        "__init__: RuntimeError: model cannot start")


def test_raising_hooks_cost_one_warning_each_not_the_run(tmp_path, cache):
    res = bench("run", TINY, "--quiet", *SMALL, "-p", MISBEHAVING, tmp=tmp_path, cache=cache,
                env={"RAISING_HOOKS": "bench_run_start,bench_cell_finished,bench_run_end"})
    assert res.returncode == 0, res.stderr
    plugin = "artbench_local_misbehaving"
    assert res.stderr.splitlines() == [
        f"warning: plugin '{plugin}' failed in bench_run_start: RuntimeError: bench_run_start "
        "is broken",
        # two cells, one warning
        f"warning: plugin '{plugin}' failed in bench_cell_finished: RuntimeError: "
        "bench_cell_finished is broken",
        f"warning: plugin '{plugin}' failed in bench_run_end: raised SystemExit(2) at "
        f"{at('sys.exit(2)')}",
    ]
    db = sqlite3.connect(tmp_path / "store.sqlite")
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "finished"
    assert db.execute("SELECT COUNT(*) FROM cells WHERE status = 'ok'").fetchone()[0] == 2


def test_a_real_sigint_still_interrupts_the_run(tmp_path, cache):
    """The plugin's own KeyboardInterrupt fails a cell; a delivered SIGINT ends the run."""
    marker = tmp_path / "slow-started"
    env = {**os.environ, "ARTBENCH_STORE": str(tmp_path / "store.sqlite"),
           "ARTBENCH_CACHE_DIR": str(cache), "SLOW_MARKER": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", TINY, "--quiet", *SMALL, "-p", MISBEHAVING,
         "--set", "attacks=[{name: interrupt}, {name: slow}, {name: fgsm}]"],
        env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a background CI job inherits SIGINT as ignored: give the child the default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before the slow attack started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)  # the slow attack sleeps 60 s: not waited for
    assert proc.returncode == 130, err
    assert err.splitlines()[-1] == "interrupted: finished cells are stored"
    db = sqlite3.connect(tmp_path / "store.sqlite")
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    assert db.execute("SELECT attack_id, status FROM cells").fetchall() == [
        ("interrupt", "failed")]


def test_a_read_only_cache_keeps_trained_models_in_memory(tmp_path):
    """A real read-only file system (a bind mount in a private mount namespace: chmod does not
    stop root, which CI runs as). One warning; the T = 1 teacher of distillation is the
    undefended network, taken from memory rather than trained again."""
    import shutil

    cache = tmp_path / "cache"
    cache.mkdir()
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare")
    probe = subprocess.run([unshare, "-m", "sh", "-c", f"mount --bind -o ro '{cache}' '{cache}' "
                            f"&& ! touch '{cache}/x' 2>/dev/null"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.strip()}")
    env = {**os.environ, "ARTBENCH_STORE": str(tmp_path / "store.sqlite"),
           "ARTBENCH_CACHE_DIR": str(cache)}
    res = subprocess.run(
        [unshare, "-m", "sh", "-c", f'mount --bind -o ro "{cache}" "{cache}" && exec "$@"', "sh",
         sys.executable, "-m", "bench", "run", TINY, "--quiet", *SMALL,
         "--set", "defenses=[{name: none}, {name: distillation, params: {temperature: 1}}]"],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == [
        f"warning: cannot write the model cache {cache}: Read-only file system; trained models "
        "are kept in memory for this run"]
    assert not any(cache.iterdir())
    db = sqlite3.connect(tmp_path / "store.sqlite")
    training = dict(db.execute("SELECT defense_id, training_json FROM rows"))
    assert set(training) == {"none", "distillation"}
    teacher = json.loads(training["distillation"])[0]
    assert teacher["cached"] and teacher["key"] == json.loads(training["none"])[0]["key"]
