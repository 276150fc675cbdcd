"""Terminal rendering of a run report (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.report import RunReport, fmt_seconds, fmt_value


def _short(attack_id: str) -> str:
    return escape(attack_id.replace("[", "\n[", 1))


def print_report(report: RunReport, console: Console, metric: str = "success_rate") -> None:
    run = report.run
    console.print(f"[bold]Run {run['id']}[/bold] {escape(run['suite_name'])} - {run['status']} "
                  f"(started {run['started']}, finished {run['finished'] or '-'})",
                  highlight=False)
    table = Table(title=f"{metric} (rows: model x defense; columns: attacks)",
                  show_lines=False)
    table.add_column("model")
    table.add_column("defense")
    table.add_column("clean acc", justify="right")
    for aid in report.attack_ids:
        table.add_column(_short(aid), justify="right")
    for e in report.matrix(metric):
        table.add_row(escape(e["model"]), escape(e["defense"]),
                      fmt_value(e["clean_accuracy"], "clean_accuracy"),
                      *(fmt_value(e[a], metric) for a in report.attack_ids))
    console.print(table)
    timings = Table(title="timings (training incl. teacher; generation per cell)")
    timings.add_column("model")
    timings.add_column("defense")
    timings.add_column("train", justify="right")
    for aid in report.attack_ids:
        timings.add_column(_short(aid), justify="right")
    for e in report.timings():
        timings.add_row(escape(e["model"]), escape(e["defense"]), fmt_seconds(e["train_seconds"]),
                        *(fmt_seconds(e[a]) for a in report.attack_ids))
    console.print(timings)
    for cell_id, error in report.failures():
        console.print(f"[red]FAILED[/red] {escape(cell_id)}: {escape(error)}", highlight=False)
