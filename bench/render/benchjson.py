"""Export a run's timings in pytest-benchmark's JSON format (``--benchmark-json``), so that
``pytest-benchmark compare`` and its history work on them.

- One benchmark per white-box cell that finished: group = attack id, name = cell id, fullname =
  ``generate::<cell id>``; its stats are of the cell's attack generation time (one round of one
  iteration: pytest-benchmark's statistics of a single measurement); ``extra_info`` holds the
  samples, the time per sample and the evaluation time. Transfer cells generate nothing: they
  are left out (their source cell carries the time).
- Every benchmark's ``extra_info`` also says the run's status and whether it is incomplete
  (an interrupted run lacks the benchmarks of its missing cells).
- One benchmark per row that trained or loaded networks: group ``training``, name = row id,
  fullname = ``train::<row id>``; one round per network (a distilled row has a teacher and a
  student), so ``total`` is the row's training time; ``extra_info.networks`` lists each network
  with its role, temperature, seconds and whether it came from the model cache (a cached network
  takes load time, not training time: compare like with like).

Written by hand to the schema of pytest-benchmark 5.x (``stats.Metadata.as_dict``,
``plugin.pytest_benchmark_generate_json``): pytest-benchmark is a development tool, not a
dependency of artbench.
"""

from __future__ import annotations

import json
import statistics
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.results.model import RunReport

#: the pytest-benchmark version whose JSON schema this file follows
SCHEMA_VERSION = "5.3.1"

OPTIONS = {"disable_gc": False, "timer": "perf_counter", "min_rounds": 1, "max_time": None,
           "min_time": None, "precision": None, "confidence": None, "warmup": False}


def _quartiles(data: list[float]) -> tuple[float, float]:
    """Q1 and Q3 exactly as pytest-benchmark computes them (Wikipedia methods 2 and 3)."""
    n, s = len(data), data
    if n == 1:
        return s[0], s[0]
    if n % 2:
        k, r = n // 4, n % 4
        if r == 1:
            return 0.25 * s[k - 1] + 0.75 * s[k], 0.75 * s[3 * k] + 0.25 * s[3 * k + 1]
        return 0.75 * s[k] + 0.25 * s[k + 1], 0.25 * s[3 * k + 1] + 0.75 * s[3 * k + 2]
    return statistics.median(s[: n // 2]), statistics.median(s[n // 2 :])


def stats(data: list[float], iterations: int = 1) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` block for these per-iteration durations (seconds)."""
    s = sorted(data)
    n = len(s)
    mean = statistics.mean(data)
    stddev = statistics.stdev(data) if n > 1 else 0
    q1, q3 = _quartiles(s)
    iqr = q3 - q1
    stddev_outliers = sum(1 for v in data if v < mean - stddev or v > mean + stddev)
    iqr_outliers = sum(1 for v in data if v < q1 - 1.5 * iqr or v > q3 + 1.5 * iqr)
    total = sum(data)
    return {
        "min": s[0], "max": s[-1], "mean": mean, "stddev": stddev, "rounds": n,
        "median": statistics.median(s), "iqr": iqr, "q1": q1, "q3": q3,
        "iqr_outliers": iqr_outliers, "stddev_outliers": stddev_outliers,
        "outliers": f"{stddev_outliers};{iqr_outliers}",
        "ld15iqr": s[0] if n == 1 else s[bisect_left(s, q1 - 1.5 * iqr)],
        "hd15iqr": s[0] if n == 1 else s[bisect_right(s, q3 + 1.5 * iqr) - 1],
        "ops": n / total if total else 0, "total": total,
        "data": list(data), "iterations": iterations,
    }


def _benchmark(group: str, name: str, fullname: str, params: dict[str, Any],
               data: list[float], extra_info: dict[str, Any]) -> dict[str, Any]:
    return {"group": group, "name": name, "fullname": fullname, "params": params,
            "param": name, "extra_info": extra_info, "options": dict(OPTIONS),
            "stats": stats(data)}


def _cell_benchmarks(report: RunReport) -> list[dict[str, Any]]:
    out = []
    for c in report.white_box:
        generate = c["timings"].get("generate")
        if c["status"] != "ok" or generate is None:
            continue
        out.append(_benchmark(
            c["attack_id"], c["cell_id"], f"generate::{c['cell_id']}",
            {"model": c["model_id"], "defense": c["defense_id"], "attack": c["attack_id"]},
            [generate],
            {"phase": "generate", "samples": c["samples"],
             "per_sample_seconds": c["timings"].get("per_sample"),
             "evaluate_seconds": c["timings"].get("evaluate"),
             "attack_name": c["attack_name"], "run": report.run["id"]}))
    return out


def _training_benchmarks(report: RunReport) -> list[dict[str, Any]]:
    out = []
    for r in report.rows:
        records = r.get("training") or []
        if not records:
            continue
        networks = [{"role": n.get("role"), "temperature": n.get("temperature"),
                     "seconds": n["seconds"], "cached": bool(n.get("cached"))} for n in records]
        out.append(_benchmark(
            "training", r["row_id"], f"train::{r['row_id']}",
            {"model": r["model_id"], "defense": r["defense_id"]},
            [n["seconds"] for n in networks],
            {"phase": "train", "networks": networks,
             "cached": sum(n["cached"] for n in networks),
             "train_seconds": r.get("train_seconds"), "run": report.run["id"]}))
    return out


def _machine_info(report: RunReport) -> dict[str, Any]:
    """What the run recorded, under pytest-benchmark's keys where one exists."""
    m = report.run.get("machine") or {}
    versions = report.run.get("versions") or {}
    return {"node": m.get("hostname"), "processor": m.get("processor"),
            "machine": m.get("machine"), "platform": m.get("platform"),
            "python_version": versions.get("python"), "cpu": {"count": m.get("cpus")},
            "versions": versions}


def _commit_info(report: RunReport) -> dict[str, Any]:
    commit = report.run.get("git_commit")
    return {"id": commit.removesuffix("+dirty") if commit else "unknown",
            "time": None, "author_time": None,
            "dirty": bool(commit and commit.endswith("+dirty")),
            "project": "artbench", "branch": "(unknown)"}


def benchmark_json(report: RunReport) -> dict[str, Any]:
    benchmarks = _cell_benchmarks(report) + _training_benchmarks(report)
    # an interrupted run lacks benchmarks: say so on each one (pytest-benchmark's schema has
    # no run-level place for it)
    for b in benchmarks:
        b["extra_info"].update(run_status=report.run["status"],
                               run_incomplete=report.incomplete)
    return {
        "machine_info": _machine_info(report),
        "commit_info": _commit_info(report),
        "benchmarks": benchmarks,
        "datetime": report.run.get("finished") or report.run.get("started"),
        "version": SCHEMA_VERSION,
    }


def benchmark_json_text(report: RunReport) -> str:
    return json.dumps(benchmark_json(report), indent=4, ensure_ascii=True, default=str) + "\n"


def write_benchmark_json(report: RunReport, path: Path) -> None:
    text = benchmark_json_text(report)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--benchmark-json {path}: cannot write ({exc.strerror})") from None
