"""Terminal rendering of a run report (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.flags import ROW_FLAGS, masking_verdicts
from bench.report import RunReport, fmt_seconds, fmt_value


def _short(attack_id: str) -> str:
    return escape(attack_id.replace("[", "\n[", 1))


def _matrix_table(report: RunReport, metric: str, title: str,
                  source_row: str | None = None, robust: dict | None = None) -> Table:
    table = Table(title=title)
    table.add_column("model")
    table.add_column("defense")
    table.add_column("clean acc", justify="right")
    if robust is not None:
        table.add_column("robust acc\n(worst case)", justify="right")
    for aid in report.attack_ids:
        table.add_column(_short(aid), justify="right")
    for rid, e in zip(report.row_ids, report.matrix(metric, source_row), strict=True):
        values = []
        for aid in report.attack_ids:
            text = escape(fmt_value(e[aid], metric))
            cell = report.cell(rid, aid, source_row)
            if cell is not None and report.warnings(cell):
                text += " [yellow]![/yellow]"
            values.append(text)
        first = [escape(e["model"]), escape(e["defense"]),
                 fmt_value(e["clean_accuracy"], "clean_accuracy")]
        if robust is not None:
            r = robust.get(rid)
            first.append("-" if r is None else "\n".join(
                f"{100 * t['robust_accuracy']:.1f}% (n={t['samples']}, {t['attacks']} att.)"
                for t in r["tiers"]))
        table.add_row(*first, *values)
    return table


def print_report(report: RunReport, console: Console, metric: str = "success_rate") -> None:
    run = report.run
    console.print(f"[bold]Run {run['id']}[/bold] {escape(run['suite_name'])} - {run['status']} "
                  f"(started {run['started']}, finished {run['finished'] or '-'})",
                  highlight=False)
    notice = report.incomplete_notice()
    if notice:
        console.print(f"[bold yellow]![/bold yellow] {escape(notice)}", highlight=False)
    robust = report.robust_accuracy()
    console.print(_matrix_table(report, metric,
                                f"{metric}, white-box (rows: model x defense; columns: attacks)",
                                robust=robust))
    for source in report.sources():
        console.print(_matrix_table(report, metric, f"{metric}, transfer: examples crafted on "
                                    f"{escape(source)}", source_row=source))
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
    lines: list[tuple[str, str, str]] = []
    for cell in report.white_box:
        for f in report.warnings(cell):
            where = cell["row_id"] if f["name"] in ROW_FLAGS else cell["cell_id"]
            if (where, f["name"], f["evidence"]) not in lines:
                lines.append((where, f["name"], f["evidence"]))
    if lines:
        console.print("[yellow]![/yellow] sanity flags: likely gradient masking, the success "
                      "rate understates what a suitable attack achieves")
        for where, name, evidence in lines:
            console.print(f"  {escape(where)}: [yellow]{escape(name)}[/yellow] "
                          f"{escape(evidence)}", highlight=False)
    for v in masking_verdicts(report):
        console.print(f"[yellow]![/yellow] {escape(v['row_id'])}: {escape(v['text'])}",
                      highlight=False)
    if robust:
        console.print("Robust accuracy is an upper bound: the per-sample worst case over the "
                      "attacks listed, not a guarantee.", highlight=False)
    for cell_id, error in report.failures():
        console.print(f"[red]FAILED[/red] {escape(cell_id)}: {escape(error)}", highlight=False)
