from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.errors import ConfigError
from bench.render.compare import to_json, to_markdown
from bench.results.compare import check, compare_runs, parse_threshold
from bench.results.model import load_report
from bench.results.store import Store

ROW = "model=cnn/defense=none"


def cell_id(attack: str, row: str = ROW) -> str:
    return f"{row}/attack={attack}"


def add_run(store: Store, cells: dict[str, dict[str, Any]], clean: float = 0.9,
            train: float = 10.0) -> int:
    """A run with one row and ``cells``: attack id -> {metrics..., status, generate}."""
    run = store.create_run("s", "s.yaml", {"name": "s"}, 0, "abc", {"cpus": 2}, {}, [],
                           len(cells))
    store.add_row(run, {"row_id": ROW, "model_id": "cnn", "defense_id": "none", "status": "ok",
                        "clean_accuracy": clean, "balanced_accuracy": clean, "train_seconds": train,
                        "training": [{"key": "k", "role": {"kind": "plain"}, "temperature": 1.0,
                                      "seconds": train, "cached": False}]})
    for attack, spec in cells.items():
        spec = dict(spec)
        status = spec.pop("status", "ok")
        generate = spec.pop("generate", None)
        timings = {} if generate is None else {"generate": generate, "per_sample": generate / 10}
        store.add_cell(run, {
            "cell_id": cell_id(attack), "row_id": ROW, "model_id": "cnn", "defense_id": "none",
            "attack_id": attack, "attack_name": attack, "samples": 10, "status": status,
            "error": None if status == "ok" else "boom", "plugins": {}, "params": {}},
            {} if status != "ok" else {"clean_accuracy": clean, **spec}, timings)
    store.finish_run(run, "finished")
    return run


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "r.sqlite")
    add_run(s, {"fgsm": {"success_rate": 0.40, "adv_accuracy": 0.5, "l2_mean": 2.0,
                         "generate": 2.0},
                "bim": {"success_rate": 0.70, "generate": 4.0},
                "cw-l2": {"success_rate": 1.0, "generate": 10.0},
                "old": {"success_rate": 0.1}})
    add_run(s, {"fgsm": {"success_rate": 0.52, "adv_accuracy": 0.4, "l2_mean": 2.0,
                         "generate": 3.1},
                "bim": {"success_rate": 0.75, "generate": 4.0},
                "cw-l2": {"status": "failed"},
                "new": {"success_rate": 0.2}}, clean=0.88)
    return s


def test_matches_cells_and_rows_by_id(store):
    c = compare_runs(load_report(store, 1), load_report(store, 2))
    assert (c.run_a, c.run_b) == (1, 2)
    assert c.only_a == [cell_id("old")] and c.only_b == [cell_id("new")]
    assert [(e.id, e.status_a, e.status_b) for e in c.status_changes] == [
        (cell_id("cw-l2"), "ok", "failed")]
    fgsm = next(e for e in c.cells if e.id == cell_id("fgsm"))
    assert fgsm.metrics["success_rate"].delta == pytest.approx(0.12)
    assert fgsm.metrics["generate"].a == 2.0 and fgsm.metrics["generate"].b == 3.1
    [row] = c.rows
    assert row.id == ROW and row.metrics["clean_accuracy"].delta == pytest.approx(-0.02)
    assert row.metrics["train_seconds"].delta == 0


@pytest.mark.parametrize("text, a, b, crossed", [
    ("success_rate:+5%", 0.40, 0.45, False),  # exactly 5 points is not "more than"
    ("success_rate:+5%", 0.40, 0.451, True),
    ("success_rate:+5%", 0.40, 0.10, False),  # a fall never crosses a '+' threshold
    ("success_rate:+0.05", 0.40, 0.451, True),  # absolute, same unit as the metric
    ("clean_accuracy:-2%", 0.90, 0.88, False),
    ("clean_accuracy:-2%", 0.90, 0.879, True),
    ("success_rate:3%", 0.50, 0.46, True),  # unsigned: either way
    ("success_rate:3%", 0.50, 0.54, True),
    ("generate:+50%", 2.0, 3.0, False),  # relative for times
    ("generate:+50%", 2.0, 3.1, True),
    ("generate:+50%", 0.0, 0.1, True),  # from 0: infinite
    ("generate:+30", 2.0, 31.0, False),  # absolute seconds
    ("generate:+30", 2.0, 32.5, True),
    ("l2_mean:-10%", 2.0, 1.7, True),
])
def test_threshold_semantics(text, a, b, crossed):
    assert parse_threshold(text).crossed(a, b) is crossed


@pytest.mark.parametrize("text, message", [
    ("success_rate+5%", "--fail-on 'success_rate+5%': expected METRIC:THRESHOLD, e.g. "
                        "success_rate:+5% or generate:+50%"),
    ("success_rate:", "--fail-on 'success_rate:': expected METRIC:THRESHOLD, e.g. "
                      "success_rate:+5% or generate:+50%"),
    ("success_rate:+five%", "--fail-on 'success_rate:+five%': threshold '+five%' must be a "
                            "number with an optional sign and %, e.g. +5%, -2%, 0.05"),
    ("success_rate:5%%", "--fail-on 'success_rate:5%%': threshold '5%%' must be a number with "
                         "an optional sign and %, e.g. +5%, -2%, 0.05"),
])
def test_malformed_thresholds(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_threshold(text)
    assert str(exc.value) == message


def test_check_names_crossings_and_new_failures(store):
    c = compare_runs(load_report(store, 1), load_report(store, 2))
    thresholds = [parse_threshold(t) for t in ("success_rate:+5%", "generate:+50%",
                                               "clean_accuracy:-2%")]
    msgs = [x.message() for x in check(c, thresholds)]
    assert msgs == [
        "success_rate:+5% crossed by model=cnn/defense=none/attack=fgsm: 40.0% -> 52.0% "
        "(+12.0 points, worse)",
        "generate:+50% crossed by model=cnn/defense=none/attack=fgsm: 2s -> 3.1s (+55.0%, worse)",
        "cell model=cnn/defense=none/attack=cw-l2: ok -> failed: boom",
    ]
    assert check(c, []) == []


def test_renderers(store):
    c = compare_runs(load_report(store, 1), load_report(store, 2))
    md = to_markdown(c, ["success_rate", "generate"])
    assert "| model=cnn/defense=none/attack=fgsm | success_rate | 40.0% | 52.0% | +12.0 pt |" \
        in md
    assert "|  | generate | 2s | 3.1s | +1.1s (+55%) |" in md
    assert "## Only in run A\n\n- `model=cnn/defense=none/attack=old`" in md
    assert "- `cell model=cnn/defense=none/attack=cw-l2: ok -> failed (boom)`" in md
    data = json.loads(to_json(c, ["success_rate"], []))
    fgsm = next(e for e in data["cells"] if e["id"] == cell_id("fgsm"))
    assert fgsm["metrics"] == {"success_rate": {"a": 0.4, "b": 0.52,
                                                "delta": pytest.approx(0.12)}}
    assert data["only_b"] == [cell_id("new")] and data["failed"] == []


def test_cli_exit_codes_and_messages(store):
    """The real command line: thresholds crossed -> exit 1, one line each; bad input -> 4."""
    env = {**os.environ, "ARTBENCH_STORE": str(store.path)}

    def bench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bench", "compare", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    crossed = bench("1", "2", "--fail-on", "success_rate:+5%", "--fail-on", "clean_accuracy:-1%")
    assert crossed.returncode == 1, crossed.stderr
    assert crossed.stderr.splitlines() == [
        "FAIL success_rate:+5% crossed by model=cnn/defense=none/attack=fgsm: 40.0% -> 52.0% "
        "(+12.0 points, worse)",
        "FAIL clean_accuracy:-1% crossed by model=cnn/defense=none: 90.0% -> 88.0% "
        "(-2.0 points, worse)",
        "FAIL clean_accuracy:-1% crossed by model=cnn/defense=none/attack=fgsm: 90.0% -> 88.0% "
        "(-2.0 points, worse)",
        "FAIL clean_accuracy:-1% crossed by model=cnn/defense=none/attack=bim: 90.0% -> 88.0% "
        "(-2.0 points, worse)",
        "FAIL cell model=cnn/defense=none/attack=cw-l2: ok -> failed: boom",
        "5 regression gate(s) failed",
    ]
    assert "model=cnn/defense=none/attack=fgsm" in crossed.stdout
    relative = bench("-2", "-1", "--fail-on", "success_rate:+5%", "--format", "markdown")
    assert relative.returncode == 1 and relative.stdout.startswith("# Run 1 (A) vs run 2 (B)")
    same = bench("2", "2", "--fail-on", "success_rate:+0%", "--format", "json")
    assert same.returncode == 0 and same.stderr == ""
    assert json.loads(same.stdout)["failed"] == []
    bad = bench("1", "2", "--fail-on", "sucess_rate:+5%")
    assert bad.returncode == 4
    assert bad.stderr.startswith("error: --fail-on: unknown metric 'sucess_rate'. Did you mean: "
                                 "success_rate?")
    assert len(bad.stderr.splitlines()) == 1
    malformed = bench("1", "2", "--fail-on", "success_rate=5")
    assert (malformed.returncode, malformed.stderr) == (
        4, "error: --fail-on 'success_rate=5': expected METRIC:THRESHOLD, e.g. success_rate:+5% "
           "or generate:+50%\n")
    missing = bench("1", "9")
    assert missing.returncode == 4 and missing.stderr == (
        f"error: {store.path}: no run 9 (runs: 1..2)\n")


def test_different_suites_and_configurations_warn(tmp_path):
    s = Store(tmp_path / "r.sqlite")
    add_run(s, {"fgsm": {"success_rate": 0.4}})
    other = s.create_run("other", None, {"name": "other", "seed": 1, "attacks": ["fgsm"]}, 0,
                         None, {}, {}, [], 0)
    s.finish_run(other, "finished")
    c = compare_runs(load_report(s, 1), load_report(s, 2))
    assert c.warnings == [
        "run 1 is of suite 's', run 2 of suite 'other': cells are matched by id only",
        "runs 1 and 2 have different configurations (suite fields that differ: attacks, seed)"]
    assert compare_runs(load_report(s, 1), load_report(s, 1)).warnings == []


def test_incomplete_run_is_marked(tmp_path):
    s = Store(tmp_path / "r.sqlite")
    add_run(s, {"fgsm": {"success_rate": 0.4}, "bim": {"success_rate": 0.5}})
    planned = [cell_id("fgsm"), cell_id("bim"), cell_id("cw-l2")]
    run = s.create_run("s", "s.yaml", {"name": "s"}, 0, "abc", {"cpus": 2}, {}, [], 3,
                       cell_ids=planned)
    s.add_cell(run, {"cell_id": cell_id("fgsm"), "row_id": ROW, "model_id": "cnn",
                     "defense_id": "none", "attack_id": "fgsm", "attack_name": "fgsm",
                     "samples": 10, "status": "ok", "error": None, "plugins": {}, "params": {}},
               {"success_rate": 0.6}, {})
    s.finish_run(run, "interrupted")
    c = compare_runs(load_report(s, 1), load_report(s, 2))
    assert c.warnings == [
        f"Run 2 is incomplete (interrupted): 2 of 3 cells missing: {cell_id('bim')}, "
        f"{cell_id('cw-l2')}"]
    assert to_markdown(c, ["success_rate"]).startswith(
        "# Run 1 (A) vs run 2 (interrupted, 2 cells missing) (B)\n\n> **Warning:** Run 2 is "
        "incomplete (interrupted)")
    data = json.loads(to_json(c, ["success_rate"], []))
    assert data["runs"]["b"] == {"status": "interrupted", "suite": "s", "incomplete": True,
                                 "missing_cells": 2}
    assert data["runs"]["a"]["incomplete"] is False and data["warnings"] == c.warnings
    env = {**os.environ, "ARTBENCH_STORE": str(s.path)}
    res = subprocess.run([sys.executable, "-m", "bench", "compare", "1", "2"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == [f"warning: {c.warnings[0]}"]
    assert "run 2 (interrupted, 2 cells missing) (B)" in res.stdout


def test_unknown_metric_is_an_error_not_a_table_of_dashes(store):
    env = {**os.environ, "ARTBENCH_STORE": str(store.path)}
    for cmd in (["compare", "1", "2", "--metric", "sucess_rate"],
                ["report", "1", "--metric", "sucess_rate"]):
        res = subprocess.run([sys.executable, "-m", "bench", *cmd], env=env,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 4 and res.stdout == "", res.stderr
        [line] = res.stderr.splitlines()
        assert line.startswith("error: --metric: unknown metric 'sucess_rate'. Did you mean: "
                               "success_rate? Known: adv_accuracy, "), line
