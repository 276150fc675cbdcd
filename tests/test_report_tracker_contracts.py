"""Reporter options (``--opt``), reporters writing files, trackers configured in the suite
(the built-in ``jsonl``), the new ``bench_cell_finished`` arguments beside old-style hook
implementations, and ``bench plugins`` for a hook-only plugin. One real tiny run."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from bench.cli import build_parser, cmd_run, main
from bench.errors import ConfigError
from tests.helpers import DATA

PLUGINS = DATA / "plugins"
SUITE = """
name: contracts
dataset: {name: digits, train: "train[:300]", test: test}
models: [{name: cnn, params: {epochs: 1, optimizer: adam}}]
defenses: [{name: none}]
attacks: [{name: fgsm, params: {eps: 0.1}}, {name: broken}]
evaluation: {samples: 16, batch_size: 8, seed: 0}
threat_models: [{norm: inf, eps: 0.1}]
trackers:
  - {name: jsonl, params: {path: runs.jsonl}}
  - {name: raising}
"""
FGSM = "model=cnn/defense=none/attack=fgsm"
BROKEN = "model=cnn/defense=none/attack=broken"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contracts")
    (tmp / "suite.yaml").write_text(SUITE)
    os.environ["RECORDER_LOG"] = str(tmp / "old-hooks.jsonl")
    os.environ["CONTRACT_LOG"] = str(tmp / "new-hooks.jsonl")
    out, err = io.StringIO(), io.StringIO()
    try:
        args = build_parser().parse_args([
            "run", str(tmp / "suite.yaml"), "--store", str(tmp / "store.sqlite"),
            "--cache-dir", str(tmp / "cache"), "--quiet",
            "-p", str(PLUGINS / "broken_attack.py"), "-p", str(PLUGINS / "recorder.py"),
            "-p", str(PLUGINS / "report_contracts.py")])
        with contextlib.redirect_stderr(err):  # warnings and FAILED lines
            code = cmd_run(args, Console(file=out, width=240))
    finally:
        del os.environ["RECORDER_LOG"], os.environ["CONTRACT_LOG"]
    return tmp, int(code), err.getvalue()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_tracker_writes_one_line_per_cell(run):
    tmp, code, out = run
    assert code == 1  # the broken attack's cell failed
    lines = _lines(tmp / "runs.jsonl")  # relative to the suite's folder
    assert [(d["cell_id"], d["status"]) for d in lines] == [(FGSM, "ok"), (BROKEN, "failed")]
    ok, failed = lines
    assert ok["run"] == 1 and ok["error"] is None and ok["flags"] == []
    assert 0 <= ok["metrics"]["success_rate"] <= 1 and ok["metrics"]["samples"] == 16
    assert ok["timings"]["generate"] > 0 and "per_sample" in ok["timings"]
    assert failed["error"] == "RuntimeError: kaboom on batch 2"
    assert "params" not in ok  # only with params: true


def test_a_raising_tracker_costs_one_warning(run):
    _, _, out = run
    warnings = [line for line in out.splitlines() if "tracker 'raising'" in line]
    assert warnings == [f"warning: tracker 'raising' failed in cell_finished: RuntimeError: "
                        f"cannot reach the server for {FGSM}"]


def test_old_and_new_hook_implementations_are_both_called(run):
    tmp, _, _ = run
    old = _lines(tmp / "old-hooks.jsonl")  # bench_cell_finished(run_id, cell_id, status, metrics)
    assert [(e["event"], e.get("cell")) for e in old] == [
        ("run_start", None), ("cell_finished", FGSM), ("cell_finished", BROKEN), ("run_end", None)]
    new = _lines(tmp / "new-hooks.jsonl")
    assert [(e["cell"], e["status"], e["error"]) for e in new] == [
        (FGSM, "ok", None), (BROKEN, "failed", "RuntimeError: kaboom on batch 2")]
    assert "generate" in new[0]["timings"] and new[0]["row"] == "model=cnn/defense=none"
    assert new[0]["attack_traits"]["eps"] == 0.1 and new[0]["source_row"] is None


def _report(capsys, tmp: Path, *args: str) -> tuple[int, str, str]:
    code = main(["report", "--store", str(tmp / "store.sqlite"),
                 "-p", str(PLUGINS / "report_contracts.py"), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_reporter_options_are_validated_in_one_line(run, capsys):
    tmp, _, _ = run
    cases = {
        ("--opt", "digts=2"): "error: reporter 'tex-table': --opt digts: unknown option. Did "
                              "you mean: digits? Options: caption, digits, metric",
        ("--opt", "digits=two"): "error: reporter 'tex-table': --opt digits: Input should be a "
                                 "valid integer, got 'two'",
        ("--opt", "digits=9"): "error: reporter 'tex-table': --opt digits: Input should be less "
                               "than or equal to 6, got 9",
        ("--opt", "digits"): "error: --opt 'digits': expected KEY=VALUE",
    }
    for extra, line in cases.items():
        code, out, err = _report(capsys, tmp, "-f", "tex-table", *extra)
        assert (code, out, err.strip()) == (int(ConfigError.exit_code), "", line)
    code, _, err = _report(capsys, tmp, "-f", "csv", "--opt", "table=wide")
    assert err.strip() == ("error: reporter 'csv': --opt table: Input should be 'cells' or "
                           "'robust', got 'wide'")


def test_a_reporter_gets_its_options_and_writes_files(run, capsys):
    tmp, _, _ = run
    out = tmp / "out.tex"
    code, stdout, err = _report(capsys, tmp, "-f", "tex-table", "-o", str(out),
                                "--opt", "digits=2", "--opt", "caption=Robust digits")
    assert (code, err) == (0, "")
    assert stdout.strip() == f"wrote {out}"
    tex = out.read_text()
    assert r"\caption{Robust digits}" in tex and "fgsm & broken" in tex
    value = tex.splitlines()[3].split(" & ")[1]
    assert len(value.split(".")[1]) == 2  # digits=2
    assert (tmp / "out.rows.txt").read_text() == "model=cnn/defense=none\n"


def test_builtin_reporters_show_robust_accuracy_per_threat_model(run, capsys):
    tmp, _, _ = run
    code, md, _ = _report(capsys, tmp, "-f", "markdown", "--opt", "timings=false")
    assert code == 0
    assert "| row | L-inf 0.1 |" in md
    row = next(line for line in md.splitlines() if line.startswith("| model=cnn/defense=none |"))
    assert row.endswith(" (n=16, 1 att.) |")
    # the larger side of the exact 95 % interval of 16 samples: 20 points or more
    assert float(row.split(" \u00b1")[1].split(" ")[0]) >= 20, row
    assert "## Robust accuracy per threat model" in md and "## Timings" not in md
    code, csv_text, _ = _report(capsys, tmp, "-f", "csv", "--opt", "table=robust")
    head, row = csv_text.splitlines()
    assert head == ("run,row_id,threat_model,norm,eps,robust_accuracy,samples,attacks,"
                    "interval_low,interval_high")
    fields = row.split(",")
    assert fields[:2] == ["1", "model=cnn/defense=none"] and fields[3:5] == ["inf", "0.1"]
    assert 0 <= float(fields[5]) <= 1 and fields[6:8] == ["16", "1"]
    low, acc, high = float(fields[8]), float(fields[5]), float(fields[9])
    assert 0 <= low <= acc <= high <= 1 and high - low > 0.3


def test_old_style_reporter_still_works(run, capsys):
    tmp, _, _ = run
    code, _, err = _report(capsys, tmp, "-p", str(PLUGINS / "faulty_io.py"), "-f",
                           "broken-report")
    assert err.strip() == "error: reporter 'broken-report' failed: KeyError: 'rows'"


def test_unknown_tracker_and_bad_tracker_params(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.replace("{name: raising}", "{name: jsnl}"))
    assert main(["validate", str(suite), "-p", str(PLUGINS / "broken_attack.py")]) == 4
    assert capsys.readouterr().err.strip() == (
        f"error: {suite}: trackers[1].name: Unknown tracker 'jsnl'. Did you mean: jsonl? "
        "Available: jsonl")
    suite.write_text(SUITE.replace("path: runs.jsonl", "path: runs.jsonl, every: 2"))
    assert main(["validate", str(suite), "-p", str(PLUGINS / "report_contracts.py"),
                 "-p", str(PLUGINS / "broken_attack.py")]) == 4
    assert capsys.readouterr().err.strip() == (
        f"error: {suite}: trackers[0].params.every: unknown field")


def test_bench_plugins_lists_the_hooks_of_a_hook_only_plugin(capsys):
    assert main(["plugins", "-p", str(PLUGINS / "recorder.py")]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "artbench_local_recorder" in line)
    assert "hooks: bench_cell_finished, bench_run_end, bench_run_start" in " ".join(
        line.split())
