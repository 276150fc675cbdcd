"""The executor contract, on real processes: every executor stores the same cells with the same
metrics as ``serial``, trains each network once, and (where it isolates tasks) a plugin that
crashes, hangs or exits fails its own cell only."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import DATA, REPO_ROOT

TINY = str(DATA / "tiny.yaml")
MISBEHAVING = str(DATA / "plugins" / "misbehaving.py")
#: two rows sharing a network (distillation at T = 1 takes the undefended network as its
#: teacher) plus one of its own, FGSM at two eps, transfer from the undefended row: 10 cells
GRID = ["--set", "defenses=[{name: none}, {name: distillation, params: {temperature: 1}}, "
        "{name: distillation, params: {temperature: 10}}]",
        "--set", "transfer=[{source: {defense: none}}]", "--set", "evaluation.samples=16"]
EXECUTORS = {"serial": [], "process": ["--executor", "process", "--workers", "2"],
             "ray": ["--executor", "ray"]}
#: Ray's tests run wherever Ray is installed (``.[dev]`` installs it, so CI runs them)
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason='Ray is not installed (pip install -e ".[ray]")')


def executors(*names: str) -> list:
    """``names`` as parameters; Ray's marked to run only where Ray is installed."""
    return [pytest.param(n, marks=needs_ray) if n == "ray" else n for n in names]


def environ(store: Path, cache: Path, **more: str) -> dict[str, str]:
    return {**os.environ, "ARTBENCH_STORE": str(store), "ARTBENCH_CACHE_DIR": str(cache),
            "COLUMNS": "200", **more}


def bench(*args: str, store: Path, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, env=environ(store, cache, **env), cwd=REPO_ROOT,
                          timeout=900)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def ray_processes() -> set[int]:
    """The running processes of Ray on this machine (GCS, raylets, workers, agents)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if (b"site-packages/ray/" in cmd or cmd.startswith(b"ray::")) and alive(int(entry.name)):
            pids.add(int(entry.name))
    return pids


def stored(store: Path) -> dict[str, tuple[str, str | None, dict[str, float]]]:
    db = sqlite3.connect(store)
    out = {}
    for pk, cell_id, status, error in db.execute("SELECT id, cell_id, status, error FROM cells"):
        assert cell_id not in out, f"{cell_id} stored twice"
        metrics = dict(db.execute("SELECT name, value FROM metrics WHERE cell = ?", (pk,)))
        out[cell_id] = (status, error, metrics)
    db.close()
    return out


def trained_keys(store: Path) -> list[str]:
    """The cache keys the run's rows trained (not loaded), once per training."""
    db = sqlite3.connect(store)
    records = [r for (t,) in db.execute("SELECT training_json FROM rows") for r in json.loads(t)]
    db.close()
    return [r["key"] for r in records if not r["cached"]]


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("serial")
    res = bench("run", TINY, "--quiet", *GRID, store=tmp / "s.sqlite", cache=tmp / "cache")
    assert res.returncode == 0, res.stderr
    return stored(tmp / "s.sqlite")


@pytest.mark.parametrize("executor", executors(*sorted(EXECUTORS)))
def test_every_executor_stores_the_serial_cells_and_trains_each_network_once(
        executor, serial, tmp_path, request):
    if executor == "ray":
        request.getfixturevalue("ray_machine")
    cache = tmp_path / "cache"
    before = ray_processes()
    res = bench("run", TINY, "--quiet", *GRID, *EXECUTORS[executor], store=tmp_path / "s.sqlite",
                cache=cache)
    assert res.returncode == 0, res.stderr
    if executor == "ray":  # the local instance it started is gone with it
        deadline = time.monotonic() + 30
        while ray_processes() - before and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not ray_processes() - before, "Ray processes outlived bench run"
    got = stored(tmp_path / "s.sqlite")
    assert len(got) == 10 and all(status == "ok" for status, _, _ in got.values())
    assert sorted(got) == sorted(serial)
    for cell_id, (_, _, metrics) in got.items():
        assert metrics.keys() == serial[cell_id][2].keys(), cell_id
        for name, value in metrics.items():
            expected = serial[cell_id][2][name]
            assert value == (expected if expected is None else
                             pytest.approx(expected, rel=1e-5, abs=1e-6)), (cell_id, name)
    keys = trained_keys(tmp_path / "s.sqlite")
    # the undefended network (also the T = 1 teacher), the T = 1 student, the T = 10 teacher
    # and student: each trained once, by one row
    assert len(keys) == len(set(keys)) == 4
    assert len(list(cache.glob("*/*.keras"))) == 4


#: how each executor reports a worker that died: process names the exit; Ray cannot see it, and
#: retries the task (a dead worker may be a lost node; twice by default, once here: each attempt
#: starts a worker) before it gives up
DEATHS = {
    "process": {"hard-exit": "its worker exited with code 7",
                "oom": "its worker was killed by SIGKILL (the OOM killer, or kill -9)",
                "segfault": "its worker was killed by SIGSEGV"},
    "ray": dict.fromkeys(("hard-exit", "oom", "segfault"),
                         "its worker died (retried once) (Ray: WorkerCrashedError: The worker "
                         "died unexpectedly while executing this task. Check "
                         "python-core-worker-*.log files for more information.)"),
}


@pytest.mark.parametrize("executor", executors("process", "ray"))
def test_misbehaving_attacks_fail_only_their_cells(executor, tmp_path, serial, request):
    """A hang past the time limit, os._exit, SIGKILL (what the OOM killer sends), a segfault,
    and Python-level faults: each fails its cell with a clear status; dead workers are replaced
    and the other cells equal the serial run's."""
    if executor == "ray":
        request.getfixturevalue("ray_machine")
    attacks = ("attacks=[{name: fgsm, params: {eps: 0.1}}, {name: hang}, {name: hard-exit}, "
               "{name: oom}, {name: segfault}, {name: exit}, {name: wrong-shape}, "
               "{name: nan-output}, {name: out-of-range}, {name: fgsm, params: {eps: 0.3}}]")
    retries = ["--executor-param", "max_retries=1"] if executor == "ray" else []
    res = bench("run", TINY, "--quiet", "-p", MISBEHAVING, "--set", attacks,
                "--set", "evaluation.samples=16", *EXECUTORS[executor], *retries,
                "--cell-timeout", "6", store=tmp_path / "s.sqlite", cache=tmp_path / "cache")
    assert res.returncode == 1, res.stderr
    assert "8 of 10 cells failed" in res.stdout
    got = {cid.rsplit("/attack=", 1)[1]: (status, error)
           for cid, (status, error, _) in stored(tmp_path / "s.sqlite").items()}
    assert got.pop("fgsm[eps=0.1]")[0] == got.pop("fgsm[eps=0.3]")[0] == "ok"
    deaths = DEATHS[executor]
    assert got == {
        "hang": ("timeout", "exceeded the cell time limit of 6 s; its worker was killed"),
        "hard-exit": ("crashed", deaths["hard-exit"]),
        "oom": ("crashed", deaths["oom"]),
        "segfault": ("crashed", deaths["segfault"]),
        "exit": ("failed", got["exit"][1]),
        "wrong-shape": ("failed", got["wrong-shape"][1]),
        "nan-output": ("failed", got["nan-output"][1]),
        "out-of-range": ("failed", got["out-of-range"][1]),
    }
    assert got["exit"][1].startswith("plugin raised SystemExit(3) at misbehaving.py:")
    assert "shape" in got["wrong-shape"][1]
    assert "not finite" in got["nan-output"][1] or "NaN" in got["nan-output"][1]
    assert "range" in got["out-of-range"][1]
    failed_lines = [ln for ln in res.stderr.splitlines() if ln.startswith("FAILED")]
    assert len(failed_lines) == 8
    assert "Traceback" not in res.stderr
    # the good cells: what the serial run of the same network measured
    ref = {cid.rsplit("/attack=", 1)[1]: m for cid, (_, _, m) in serial.items()
           if cid.startswith("model=cnn/defense=none/attack=")}
    db = stored(tmp_path / "s.sqlite")
    for attack in ("fgsm[eps=0.1]", "fgsm[eps=0.3]"):
        assert db[f"model=cnn/defense=none/attack={attack}"][2] == pytest.approx(ref[attack])


def test_unknown_executor_and_workers_for_serial_are_one_line_errors(tmp_path):
    res = bench("run", TINY, "--executor", "proces", store=tmp_path / "s.sqlite",
                cache=tmp_path / "c")
    assert res.returncode == 4
    assert res.stderr.strip().splitlines() == [
        "error: --executor: Unknown executor 'proces'. Did you mean: process? Available: "
        "process, ray, serial"]
    res = bench("run", TINY, "--workers", "2", store=tmp_path / "s.sqlite", cache=tmp_path / "c")
    assert res.returncode == 4
    assert res.stderr.strip().splitlines() == [
        "error: --workers: executor 'serial' (in this process, one task at a time; the "
        "default) takes no workers"]
    for param, line in [
            ("workers=0", "--executor process: workers: Input should be greater than or equal "
                          "to 1, got 0"),
            ("max_task=1", "--executor process: max_task: unknown field"),
            ("workers", "--executor-param 'workers': expected KEY=VALUE")]:
        res = bench("run", TINY, "--executor", "process", "--executor-param", param,
                    store=tmp_path / "s.sqlite", cache=tmp_path / "c")
        assert (res.returncode, res.stderr.strip()) == (4, f"error: {line}"), param
    assert not (tmp_path / "s.sqlite").exists()


def test_a_killed_driver_takes_its_workers_along_and_the_run_resumes(tmp_path):
    """SIGKILL of the driver while a worker runs an attack: the worker dies too (no orphan
    computing for nobody); --resume then stores every cell exactly once."""
    store, cache, marker = tmp_path / "s.sqlite", tmp_path / "cache", tmp_path / "slow"
    args = ["run", TINY, "--quiet", "-p", MISBEHAVING, "--set", "evaluation.samples=8",
            "--set", "attacks=[{name: fgsm, params: {eps: 0.1}}, {name: slow}, "
            "{name: fgsm, params: {eps: 0.3}}]", "--executor", "process", "--workers", "2"]
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=REPO_ROOT,
                            env=environ(store, cache, SLOW_MARKER=str(marker)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before the slow attack started"
    worker = int(marker.read_text().split()[1])
    assert worker != proc.pid and alive(worker)
    proc.kill()
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(worker), "the worker outlived its driver"
    db = sqlite3.connect(store)
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "running"
    db.close()
    res = bench(*args, "--resume", store=store, cache=cache, SLOW_MARKER=str(marker),
                SLOW_SECONDS="0")
    assert res.returncode == 0, res.stderr
    got = stored(store)  # asserts no cell is stored twice
    assert sorted(cid.rsplit("=", 1)[1] for cid in got) == ["0.1]", "0.3]", "slow"]
    assert all(status == "ok" for status, _, _ in got.values())
    db = sqlite3.connect(store)
    assert db.execute("SELECT id, status FROM runs").fetchall() == [(1, "finished")]
