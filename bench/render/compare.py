"""``bench compare``: its command line, and the rendering of a ``Comparison``: terminal (rich),
markdown and JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.errors import ExitCode
from bench.results.compare import (
    DEFAULT_METRICS,
    Comparison,
    Crossing,
    EntryDiff,
    MetricDiff,
    check,
    compare_runs,
    fmt_change,
    fmt_metric,
    parse_threshold,
    validate_metrics,
)
from bench.results.metrics import is_rate, is_seconds

__all__ = ["add_arguments", "fmt_change", "fmt_metric", "print_terminal", "run", "to_json",
           "to_markdown"]


def _relative(a: float, b: float) -> str:
    if a == 0:
        return "" if b == 0 else " (from 0)"
    return f" ({100 * (b - a) / abs(a):+.0f}%)"


def fmt_delta(d: MetricDiff) -> str:
    if d.a is None or d.b is None:
        return "-"
    delta = d.b - d.a
    if is_rate(d.metric):
        return f"{100 * delta:+.1f} pt"
    unit = "s" if is_seconds(d.metric) else ""
    return f"{delta:+.3g}{unit}{_relative(d.a, d.b)}"


def _lines(entries: list[EntryDiff], metrics: list[str]) -> list[tuple[str, str, str, str, str]]:
    """(id, metric, A, B, delta) for the entries in both runs; the id only on its first line."""
    out = []
    for e in entries:
        if not e.in_both:
            continue
        first = True
        status = "" if e.status_a == e.status_b == "ok" else f" [{e.status_a} -> {e.status_b}]"
        for m in metrics:
            d = e.metrics.get(m)
            if d is None:
                continue
            out.append((e.id + status if first else "", m, fmt_metric(m, d.a),
                        fmt_metric(m, d.b), fmt_delta(d)))
            first = False
    return out


def _sections(c: Comparison) -> list[tuple[str, list[str]]]:
    changes = [f"{e.kind} {e.id}: {e.status_a} -> {e.status_b}"
               + (f" ({e.error_b})" if e.error_b and e.status_b != "ok" else "")
               for e in c.status_changes]
    return [("only in run A", c.only_a), ("only in run B", c.only_b),
            ("status changes", changes)]


def _label(c: Comparison, which: str) -> str:
    """``run 1`` or ``run 1 (interrupted, 3 cells missing)``."""
    info = c.info_a if which == "a" else c.info_b
    return info.label if info is not None else f"run {c.run_a if which == 'a' else c.run_b}"


def print_terminal(c: Comparison, metrics: list[str], console: Console) -> None:
    for warning in c.warnings:
        console.print(f"[yellow]![/yellow] {escape(warning)}", highlight=False)
    for title, kind, entries in (("rows", "row", c.rows), ("cells", "cell", c.cells)):
        lines = _lines(entries, metrics)
        if not lines:
            continue
        table = Table(title=f"{title}: {escape(_label(c, 'a'))} (A) vs "
                            f"{escape(_label(c, 'b'))} (B)")
        table.add_column(kind)
        table.add_column("metric")
        for col in ("A", "B", "delta"):
            table.add_column(col, justify="right")
        for line in lines:
            table.add_row(*map(escape, line))
        console.print(table)
    for title, items in _sections(c):
        if items:
            console.print(f"{title}:", style="bold", highlight=False)
            for item in items:
                console.print(f"  {item}", highlight=False, markup=False)


def to_markdown(c: Comparison, metrics: list[str]) -> str:
    a, b = _label(c, "a"), _label(c, "b")
    out = [f"# {a[0].upper()}{a[1:]} (A) vs {b} (B)", ""]
    out += [f"> **Warning:** {w}" for w in c.warnings] + ([""] if c.warnings else [])
    for title, kind, entries in (("Rows", "row", c.rows), ("Cells", "cell", c.cells)):
        lines = _lines(entries, metrics)
        if not lines:
            continue
        out += [f"## {title}", "", f"| {kind} | metric | A | B | delta |",
                "|---|---|---:|---:|---:|"]
        out += ["| " + " | ".join(x.replace("|", "\\|") for x in line) + " |" for line in lines]
        out.append("")
    for title, items in _sections(c):
        if items:
            out += [f"## {title[0].upper()}{title[1:]}", ""] + [f"- `{i}`" for i in items] + [""]
    return "\n".join(out)


def _entry_json(e: EntryDiff, metrics: list[str]) -> dict[str, Any]:
    return {"id": e.id, "status_a": e.status_a, "status_b": e.status_b,
            "metrics": {m: {"a": d.a, "b": d.b, "delta": d.delta}
                        for m, d in e.metrics.items() if m in metrics}}


def to_json(c: Comparison, metrics: list[str], crossings: list[Crossing]) -> str:
    def info(i: Any) -> dict[str, Any] | None:
        return None if i is None else {"status": i.status, "suite": i.suite_name,
                                       "incomplete": i.incomplete, "missing_cells": i.missing}

    return json.dumps({
        "run_a": c.run_a, "run_b": c.run_b, "metrics": metrics,
        "runs": {"a": info(c.info_a), "b": info(c.info_b)}, "warnings": c.warnings,
        "rows": [_entry_json(e, metrics) for e in c.rows],
        "cells": [_entry_json(e, metrics) for e in c.cells],
        "only_a": c.only_a, "only_b": c.only_b,
        "status_changes": [{"id": e.id, "a": e.status_a, "b": e.status_b, "error": e.error_b}
                           for e in c.status_changes],
        "failed": [x.message() for x in crossings],
    }, indent=2)


# ---- command line ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", help="baseline run id (-2: the one before the latest)")
    parser.add_argument("run_b", help="run compared against it (-1: the latest)")
    parser.add_argument("--store", help="SQLite result store (default: $ARTBENCH_STORE or the "
                        "per-user data directory)")
    parser.add_argument("--fail-on", action="append", default=[], metavar="METRIC:THRESHOLD",
                        help="exit 1 if crossed, e.g. success_rate:+5%% (points), "
                        "clean_accuracy:-2%%, generate:+50%% (relative); repeatable")
    parser.add_argument("--metric", action="append", default=[], metavar="M",
                        help="metric to show (repeatable; default: the usual ones present)")
    parser.add_argument("--format", "-f", default="terminal",
                        choices=("terminal", "markdown", "json"))
    parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="PLUGIN",
                        help="load a plugin module or .py file (its declared metrics: units, "
                        "direction, format)")


def run(args: argparse.Namespace, console: Any) -> int:
    from bench.results.model import load_results
    from bench.results.store import Store

    if args.plugins:  # metric declarations (bench_register_metrics) of one-off plugins
        from bench.pluginmanager import load_plugins

        load_plugins(args.plugins)
    thresholds = [parse_threshold(t) for t in args.fail_on]
    store = Store(args.store, readonly=True)
    if store.warning:
        sys.stderr.write(f"warning: {store.warning}\n")
    with store.reading():
        comparison = compare_runs(load_results(store, args.run_a),
                                  load_results(store, args.run_b))
    validate_metrics([t.metric for t in thresholds], comparison, "--fail-on")
    validate_metrics(args.metric, comparison, "--metric")
    metrics = args.metric or [m for m in DEFAULT_METRICS if m in comparison.metric_names()]
    crossings = check(comparison, thresholds)
    for warning in comparison.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if args.format == "json":
        sys.stdout.write(to_json(comparison, metrics, crossings) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(to_markdown(comparison, metrics))
    else:
        print_terminal(comparison, metrics, console)
    for c in crossings:
        sys.stderr.write(f"FAIL {c.message()}\n")
    if crossings:
        sys.stderr.write(f"{len(crossings)} regression gate(s) failed\n")
        return ExitCode.CELLS_FAILED
    return ExitCode.OK
