"""The `bench` command in subprocesses: one-line errors, failed cells, lifecycle hooks, reports."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import DATA, REPO_ROOT

TINY = str(DATA / "tiny.yaml")


def bench(*args: str, tmp: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "ARTBENCH_STORE": str(tmp / "store.sqlite"),
                "ARTBENCH_CACHE_DIR": str(tmp / "cache"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          env=full_env, cwd=REPO_ROOT, timeout=600)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One real tiny run with a -p plugin whose attack fails, and a hook recorder."""
    tmp = tmp_path_factory.mktemp("tiny")
    log = tmp / "hooks.jsonl"
    res = bench("run", TINY, "--quiet", "-p", str(DATA / "plugins" / "broken_attack.py"),
                "-p", str(DATA / "plugins" / "recorder.py"),
                "--set", "attacks=[{name: fgsm, params: {eps: [0.1, 0.3]}}, {name: broken},"
                " {name: out-of-range}]",
                tmp=tmp, env={"RECORDER_LOG": str(log)})
    return tmp, res, [json.loads(line) for line in log.read_text().splitlines()]


def test_failed_cells_are_recorded_and_the_grid_goes_on(tiny_run):
    tmp, res, _ = tiny_run
    assert res.returncode == 1, res.stderr
    assert "2 of 4 cells failed" in res.stdout
    db = sqlite3.connect(tmp / "store.sqlite")
    rows = dict(db.execute("SELECT attack_id, status || ': ' || COALESCE(error, '') FROM cells"))
    assert rows == {
        "fgsm[eps=0.1]": "ok: ",
        "fgsm[eps=0.3]": "ok: ",
        "broken": "failed: RuntimeError: kaboom on batch 2",
        "out-of-range": "failed: 8 of 8 adversarial examples leave the data range [0, 1] "
                        "(by up to 2)",
    }
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "finished-with-failures"
    assert "Traceback" not in res.stderr.split("kaboom")[0].splitlines()[0]


def test_lifecycle_hooks_fire_in_order(tiny_run):
    _, _, events = tiny_run
    names = [e["event"] for e in events]
    assert names == ["run_start"] + ["cell_finished"] * 4 + ["run_end"]
    assert events[0]["cells"] == [e["cell"] for e in events[1:5]]
    assert events[-1]["summary"] == {"ok": 2, "failed": 2}


def test_report_formats(tiny_run):
    tmp, _, _ = tiny_run
    md = bench("report", "--format", "markdown", tmp=tmp)
    assert md.returncode == 0
    assert "| model | defense | clean acc | fgsm[eps=0.1] | fgsm[eps=0.3] | broken |" in md.stdout
    assert "FAILED" in md.stdout
    # a narrow terminal (or a log's 80 columns) must not break a path in two
    out = tmp / ("a-directory-name-longer-than-the-terminal-is-wide" * 2) / "r.csv"
    out.parent.mkdir()
    res = bench("report", "1", "-f", "csv", "-o", str(out), tmp=tmp, env={"COLUMNS": "40"})
    assert res.returncode == 0 and f"wrote {out}" in res.stdout.splitlines()
    lines = out.read_text().splitlines()
    assert len(lines) == 5 and lines[0].startswith("run,cell_id,model,defense,attack,status")
    js = json.loads(bench("report", "-f", "json", tmp=tmp).stdout)
    assert len(js["cells"]) == 4
    versions = js["run"]["versions"]
    tf_dist = "tensorflow-cpu" if "tensorflow-cpu" in versions else "tensorflow"
    assert versions[tf_dist] == importlib.metadata.version(tf_dist)
    assert versions["keras"] == importlib.metadata.version("keras")
    assert js["cells"][0]["params"]["attack"]["eps"] == 0.1
    assert js["cells"][0]["plugins"]["attack"]["version"] == "1.0.0"


def test_bad_suites_give_one_line_and_keep_the_store(tiny_run, tmp_path):
    tmp, _, _ = tiny_run
    before = (tmp / "store.sqlite").read_bytes()
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(TINY).read_text().replace("eps: [0.1, 0.3]", "eps: [0.1, -0.3]"))
    cases = [
        (["run", str(bad)], f"error: {bad}: attacks[0].params.eps[1]: Input should be greater "
                            "than or equal to 0, got -0.3"),
        (["run", TINY, "--set", "attacks[0].name=fgms"],
         f"error: {TINY}: attacks[0].name: Unknown attack 'fgms'. Did you mean: fgsm, ifgsm? "
         "Available: apgd, autoattack, bim, cw-l0-native, cw-l2, cw-l2-native, cw-linf, "
         "cw-linf-native, deepfool, fgsm, hop-skip-jump, ifgsm, pgd, pgd-native, random-noise, "
         "square"),
        (["validate", TINY, "--set", "models[0].params.epoch=3"],
         f"error: {TINY}: models[0].params.epoch: unknown field"),
        (["run", TINY, "--limit", "0"], "error: --limit: must be > 0, got 0"),
        (["report", "42"], f"error: {tmp / 'store.sqlite'}: no run 42 (runs: 1..1)"),
    ]
    for args, message in cases:
        res = bench(*args, tmp=tmp, env={"ARTBENCH_DISABLE_PLUGIN_AUTOLOAD": "1"})
        assert res.returncode == 4, (args, res.stderr)
        assert res.stderr.strip() == message
    assert (tmp / "store.sqlite").read_bytes() == before  # reading commands never write
    runs = sqlite3.connect(tmp / "store.sqlite").execute("SELECT COUNT(*) FROM runs").fetchone()
    assert runs[0] == 1


def test_out_of_range_target_is_a_usage_error(tmp_path):
    res = bench("run", TINY, "--quiet", "--set", "attacks[0].params.target=46", tmp=tmp_path)
    assert res.returncode == 4
    assert res.stderr.strip() == (f"error: {TINY}: attack fgsm[eps=0.1]: target class 46 is out "
                                  "of range (the dataset has classes 0..9)")


def test_validate_lists_cells_and_schema_has_plugin_params(tmp_path):
    res = bench("validate", TINY, "--list", tmp=tmp_path)
    assert res.returncode == 0
    assert "OK, 2 cells (1 model x defense rows)" in res.stdout
    assert "model=cnn/defense=none/attack=fgsm[eps=0.3]" in res.stdout
    narrow = bench("validate", TINY, "--list", tmp=tmp_path, env={"COLUMNS": "30"})
    line = "  model=cnn/defense=none/attack=fgsm[eps=0.3]  (samples 20)"
    assert line in narrow.stdout.splitlines()
    schema = json.loads(bench("schema", tmp=tmp_path).stdout)
    eps = schema["x-plugins"]["attack"]["fgsm"]["properties"]["eps"]
    assert eps["default"] == 0.3 and eps["minimum"] == 0


def test_missing_dataset_files_one_line_and_no_run_created(tmp_path):
    empty = tmp_path / "nodata"
    empty.mkdir()
    res = bench("run", "suites/emnist.yaml", "--quiet", "--set", f"dataset.params.data_dir={empty}",
                tmp=tmp_path)
    assert res.returncode == 4, res.stderr
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("error: ") and str(empty) in line
    assert "emnist-balanced-train-images-idx3-ubyte" in line
    runs = bench("runs", tmp=tmp_path)
    assert runs.returncode == 0 and "emnist" not in runs.stdout, runs.stdout


def test_interrupted_run_keeps_finished_cells(tmp_path):
    """Ctrl-C mid-run: exit 130, run marked interrupted, finished cells intact and readable."""
    import signal
    import time

    env = {**os.environ, "ARTBENCH_STORE": str(tmp_path / "store.sqlite"),
           "ARTBENCH_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", TINY, "--quiet", "--set",
         # eight cells of a few seconds each: the run cannot end between the poll and the signal
         "attacks=[{name: bim, params: {eps: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4],"
         " max_iter: 150}}]",
         "--set", "evaluation.samples=48"],
        env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a CI job started in the background inherits SIGINT as ignored, and Python then
        # installs no KeyboardInterrupt handler: give the child the default disposition
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if (tmp_path / "store.sqlite").exists():
            try:
                db = sqlite3.connect(tmp_path / "store.sqlite", timeout=1)
                done = db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
                db.close()
            except sqlite3.OperationalError:
                continue
            if done >= 1:
                break
    assert proc.poll() is None and done >= 1, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted: finished cells are stored"
    db = sqlite3.connect(tmp_path / "store.sqlite")
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    cells = db.execute("SELECT status FROM cells").fetchall()
    assert 1 <= len(cells) < 8 and all(s == ("ok",) for s in cells)
    metrics = db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    assert metrics >= len(cells) * 10
    # the stored cells are flagged too (success-not-rising and friends need no full run)
    flagged = db.execute("SELECT COUNT(DISTINCT cell) FROM flags").fetchone()[0]
    assert flagged == len(cells)


def test_progress_messages_are_plain_and_never_wrapped():
    import io

    from rich.console import Console

    from bench.progress import RunProgress

    console = Console(file=io.StringIO(), width=30)
    message = ("model=cnn/defense=distillation[temperature=10]: clean accuracy 83.20% on 2000 "
               "samples")
    RunProgress(quiet=False, console=console).log(message)
    assert console.file.getvalue() == message + "\n"
