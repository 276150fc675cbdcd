from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from pytest_benchmark.stats import Metadata, Stats

from bench.cli import main
from bench.render.benchjson import (
    OPTIONS,
    SCHEMA_VERSION,
    benchmark_json,
    stats,
    write_benchmark_json,
)
from bench.results.model import load_report
from bench.results.store import Store

NONE_ROW = "model=cnn/defense=none"
DIST_ROW = "model=cnn/defense=distillation[T=100]"


def _cell(row: str, attack: str, status: str = "ok", source_row: str | None = None) -> dict:
    model, defense = row.removeprefix("model=").split("/defense=")
    return {"cell_id": f"{row}/attack={attack}" + (f"/source={source_row}" if source_row else ""),
            "row_id": row, "model_id": model, "defense_id": defense, "attack_id": attack,
            "attack_name": attack.split("[")[0], "samples": 20, "status": status,
            "error": None if status == "ok" else "boom", "plugins": {}, "params": {},
            "source_row": source_row}


def make_run(store: Store, scale: float, commit: str | None = "abc123+dirty") -> int:
    run = store.create_run("s", "s.yaml", {"name": "s"}, 0, commit,
                           {"hostname": "h", "machine": "x86_64", "processor": "", "cpus": 2,
                            "platform": "Linux"}, {"python": "3.11.2"}, [], 4)
    store.add_row(run, {"row_id": NONE_ROW, "model_id": "cnn", "defense_id": "none",
                        "status": "ok", "train_seconds": 30 * scale,
                        "training": [{"key": "k1", "role": {"kind": "plain"}, "temperature": 1.0,
                                      "seconds": 30 * scale, "cached": False}]})
    store.add_row(run, {"row_id": DIST_ROW, "model_id": "cnn",
                        "defense_id": "distillation[T=100]", "status": "ok",
                        "train_seconds": 61 * scale,
                        "training": [
                            {"key": "k2", "role": {"kind": "teacher"}, "temperature": 100.0,
                             "seconds": 31 * scale, "cached": True},
                            {"key": "k3", "role": {"kind": "student"}, "temperature": 100.0,
                             "seconds": 30 * scale, "cached": False}]})
    for row in (NONE_ROW, DIST_ROW):
        store.add_cell(run, _cell(row, "fgsm[eps=0.1]"), {"success_rate": 0.5},
                       {"generate": 2.0 * scale, "per_sample": 0.1 * scale, "evaluate": 0.3})
    store.add_cell(run, _cell(NONE_ROW, "cw-l2", "failed"), {}, {"generate": 1.0})
    store.add_cell(run, _cell(DIST_ROW, "fgsm[eps=0.1]", source_row=NONE_ROW),
                   {"success_rate": 0.2}, {"evaluate": 0.1, "source_generate": 2.0})
    store.finish_run(run, "finished-with-failures")
    return run


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "r.sqlite")
    make_run(s, 1.0)
    make_run(s, 1.5, commit=None)
    return s


@pytest.mark.parametrize("data", [[2.5], [1.0, 3.0], [3.0, 1.0, 2.0], [1, 2, 3, 4, 100],
                                  [0.5, 0.1, 0.9, 0.3, 0.2, 0.25, 8.0], [0.0], list(range(9))])
def test_stats_match_pytest_benchmark(data):
    ref = Stats()
    for d in data:
        ref.update(d)
    expected = {**ref.as_dict(), "data": data, "iterations": 1}
    assert stats(data) == expected


def test_schema_matches_pytest_benchmark(store):
    doc = benchmark_json(load_report(store, 1))
    assert list(doc) == ["machine_info", "commit_info", "benchmarks", "datetime", "version"]
    fixture = SimpleNamespace(name="n", fullname="f", group="g", param="p", params={},
                              extra_info={}, cprofile_stats=None)
    ref = Metadata(fixture, iterations=1, options=OPTIONS)
    ref.update(1.0)
    ref_dict = ref.as_dict(include_data=True)
    for bench in doc["benchmarks"]:
        assert set(bench) == set(ref_dict)
        assert list(bench["stats"]) == list(ref_dict["stats"])
        assert set(bench["options"]) == set(ref_dict["options"])
    assert doc["commit_info"] == {"id": "abc123", "time": None, "author_time": None,
                                  "dirty": True, "project": "artbench", "branch": "(unknown)"}
    assert doc["machine_info"]["node"] == "h" and doc["machine_info"]["python_version"] == "3.11.2"
    assert benchmark_json(load_report(store, 2))["commit_info"]["id"] == "unknown"


def test_cell_and_training_benchmarks(store):
    benches = {b["fullname"]: b for b in benchmark_json(load_report(store, 1))["benchmarks"]}
    # failed and transfer cells generate nothing of their own: left out
    assert list(benches) == [f"generate::{NONE_ROW}/attack=fgsm[eps=0.1]",
                             f"generate::{DIST_ROW}/attack=fgsm[eps=0.1]",
                             f"train::{NONE_ROW}", f"train::{DIST_ROW}"]
    cell = benches[f"generate::{NONE_ROW}/attack=fgsm[eps=0.1]"]
    assert (cell["group"], cell["name"]) == ("fgsm[eps=0.1]", f"{NONE_ROW}/attack=fgsm[eps=0.1]")
    assert cell["params"] == {"model": "cnn", "defense": "none", "attack": "fgsm[eps=0.1]"}
    assert cell["stats"]["mean"] == cell["stats"]["total"] == 2.0
    assert (cell["stats"]["rounds"], cell["stats"]["ops"]) == (1, 0.5)
    assert cell["extra_info"]["samples"] == 20
    assert cell["extra_info"]["per_sample_seconds"] == 0.1
    dist = benches[f"train::{DIST_ROW}"]
    assert dist["group"] == "training" and dist["name"] == DIST_ROW
    assert dist["stats"]["rounds"] == 2 and dist["stats"]["total"] == 61
    assert [(n["role"]["kind"], n["seconds"], n["cached"])
            for n in dist["extra_info"]["networks"]] == [("teacher", 31, True),
                                                         ("student", 30, False)]
    assert dist["extra_info"]["cached"] == 1


def test_report_cli_writes_file(store, tmp_path, capsys):
    out = tmp_path / "one.json"
    assert main(["report", "1", "--store", str(store.path), "--benchmark-json", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert len(json.loads(out.read_text())["benchmarks"]) == 4
    bad = tmp_path / "missing-dir" / "x.json"
    assert main(["report", "1", "--store", str(store.path), "--benchmark-json", str(bad)]) == 4
    assert capsys.readouterr().err.strip() == (
        f"error: --benchmark-json {bad}: cannot write (No such file or directory)")


def _pytest_benchmark_cli() -> list[str]:
    exe = Path(sys.executable).parent / "pytest-benchmark"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pytest-benchmark")
    if found is None:
        pytest.skip("pytest-benchmark's command line is not installed")
    return [found]


def test_pytest_benchmark_compare_accepts_exports(store, tmp_path):
    """The real ``pytest-benchmark compare`` on two exported runs."""
    paths = []
    for run in (1, 2):
        path = tmp_path / f"000{run}_run{run}.json"
        write_benchmark_json(load_report(store, run), path)
        paths.append(str(path))

    def compare(*args: str) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([*_pytest_benchmark_cli(), "compare", *args, *paths],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Failed to load" not in res.stdout + res.stderr
        return res

    table = compare("--group-by", "group", "--columns", "min,mean,rounds").stdout
    assert "benchmark 'fgsm[eps=0.1]': 4 tests" in table
    assert "benchmark 'training': 4 tests" in table
    assert f"{DIST_ROW}/attack=fgsm[eps=0.1]" in table
    between = compare("--between", "mean").stdout
    # the same benchmark of the two runs side by side: 2.0 s then 3.0 s, 61 s then 91.5 s
    line = next(x for x in between.splitlines() if x.startswith(f"{NONE_ROW}/attack=fgsm"))
    assert "2.0000" in line and "3.0000" in line, between
    csv = tmp_path / "cmp"
    compare("--csv", str(csv))
    assert "train::model=cnn/defense=none" in next(tmp_path.glob("cmp*.csv")).read_text()
    assert json.loads(Path(paths[0]).read_text(encoding="utf-8"))["version"] == SCHEMA_VERSION
