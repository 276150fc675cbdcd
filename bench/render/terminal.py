"""Terminal rendering of a run report (rich tables).

By default attack columns get short labels (A1, A2, ...) with a legend mapping each label to its
full attack id, and a matrix wider than the console is split into several tables of consecutive
attack columns, so the quick start reads on an 80-column terminal. ``wide=True`` (``bench report
--wide``) prints the full attack ids as column headers in one table per matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from bench.results import threat
from bench.results.metrics import PERCENT_METRICS, fmt_seconds, fmt_value
from bench.results.model import RunResults as RunReport
from bench.results.stats import ROW_FLAGS


def _short(attack_id: str) -> str:
    return escape(attack_id.replace("[", "\n[", 1))


def _row_label(text: str) -> str:
    """A parameterized id on two lines (``distillation`` / ``[temperature=100]``)."""
    return escape(text.replace("[", "\n[", 1))


def given_label(report: RunReport, kind: str, component_id: str) -> str | None:
    """The suite's ``label:`` of an attack or defense id, when it gave one."""
    key = f"{kind}_id"
    for c in report.cells:
        if c[key] == component_id:
            entry = (c.plugins or {}).get(kind) or {}
            if entry.get("label"):
                return str(entry["label"])
    return None


def attack_labels(report: RunReport) -> dict[str, str]:
    """Short column label per attack id, in column order: A1, A2, ..."""
    return {aid: f"A{i}" for i, aid in enumerate(report.attack_ids, 1)}


def _pm(t: dict) -> str:
    """`` ±2.2``: the larger side of a tier's 95 % interval, in points ("" without one)."""
    pm = threat.plus_minus(t)
    return f" {pm}" if pm else ""


def _robust_text(r: dict | None) -> str:
    return "-" if r is None else "\n".join(
        f"{100 * t['robust_accuracy']:.1f}%{_pm(t)} (n={t['samples']}, {t['attacks']} att.)"
        for t in r["tiers"])


def _tier_text(t: dict) -> str:
    acc = t.get("robust_accuracy")
    return "-" if acc is None else f"{100 * acc:.1f}{_pm(t)} ({t['samples']}, {t['attacks']})"


def threat_columns(report: RunReport) -> tuple[list[str], dict[str, list[str]]] | None:
    """Headers (``L-inf 0.1``) and, per row, the robust accuracy under each threat model with
    its tiers (``% (samples, attacks)``, one line per tier); None when there are none."""
    threats = report.threats or {}
    models = threats.get("models") or []
    if not models:
        return None
    cells = {}
    for rid in report.row_ids:
        entries = (threats.get("rows") or {}).get(rid) or []
        cells[rid] = ["\n".join(_tier_text(t) for t in e["tiers"]) or "-" for e in entries]
        cells[rid] += ["-"] * (len(models) - len(cells[rid]))
    return [m["label"] for m in models], cells


THREAT_NOTE = ("Robust accuracy (%) per threat model (samples, attacks within the budget; "
               "minimum-norm attacks count their examples within it); more lines cover more "
               "samples with fewer attacks; \u00b1 the wider side of the exact 95 % interval "
               "of the samples. An upper bound: only the attacks listed were tried.")


def _matrix_cells(report: RunReport, metric: str, source_row: str | None,
                  compact: bool = False) -> list[list[str]]:
    """Formatted values; ``compact``: percentages without the % sign, flag mark attached."""
    out = []
    for rid, e in zip(report.row_ids, report.matrix(metric, source_row), strict=True):
        values = []
        for aid in report.attack_ids:
            value = e[aid]
            if compact and metric in PERCENT_METRICS and isinstance(value, int | float):
                text = f"{100 * value:.1f}"
            else:
                text = escape(fmt_value(value, metric))
            cell = report.cell(rid, aid, source_row)
            if cell is not None and report.warnings(cell):
                text += "[yellow]![/yellow]" if compact else " [yellow]![/yellow]"
            values.append(text)
        out.append(values)
    return out


def _matrix_table(report: RunReport, metric: str, title: str,
                  source_row: str | None = None, robust: dict | None = None) -> Table:
    """Today's wide layout: one table, full attack ids as headers."""
    table = Table(title=title)
    table.add_column("model")
    table.add_column("defense")
    table.add_column("clean acc", justify="right")
    threats = threat_columns(report) if robust is not None else None
    if threats is not None:
        for label in threats[0]:
            table.add_column(f"robust acc\n{escape(label)}", justify="right")
    elif robust is not None:
        table.add_column("robust acc\n(worst case)", justify="right")
    for aid in report.attack_ids:
        table.add_column(_short(aid), justify="right")
    for rid, e, values in zip(report.row_ids, report.matrix(metric, source_row),
                              _matrix_cells(report, metric, source_row), strict=True):
        first = [escape(e["model"]), escape(e["defense"]),
                 fmt_value(e["clean_accuracy"], "clean_accuracy")]
        if threats is not None:
            first.extend(threats[1][rid])
        elif robust is not None:
            first.append(_robust_text(robust.get(rid)))
        table.add_row(*first, *values)
    return table


def _split_columns(console: Console, make: Callable[[Sequence[int]], Table],
                   n: int) -> list[Table]:
    """Tables of consecutive attack columns, each as wide as fits the console (at least one)."""
    unbounded = console.options.update(max_width=1 << 16)

    def fits(table: Table) -> bool:
        return Measurement.get(console, unbounded, table).maximum <= console.width

    tables: list[Table] = []
    start = 0
    while start < n:
        end = start + 1
        while end < n and fits(make(range(start, end + 1))):
            end += 1
        tables.append(make(range(start, end)))
        start = end
    return tables


def _compact_table(console: Console, report: RunReport, labels: dict[str, str],
                   first: list[tuple[str, str]], first_cells: list[list[str]],
                   values: list[list[str]]) -> list[Table]:
    """Row-label columns ``first`` (header, justify) followed by labelled attack columns."""

    def make(cols: Sequence[int]) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True)
        for header, justify in first:
            table.add_column(header, justify=justify)  # type: ignore[arg-type]
        for i in cols:
            table.add_column(labels[report.attack_ids[i]], justify="right", no_wrap=True)
        for head, vals in zip(first_cells, values, strict=True):
            table.add_row(*head, *(vals[i] for i in cols))
        return table

    return _split_columns(console, make, len(report.attack_ids))


def _row_heads(report: RunReport, with_clean: bool = True) -> tuple[list[tuple[str, str]],
                                                                       list[list[str]]]:
    entries = report.matrix("clean_accuracy")
    models = {e["model"] for e in entries}
    cols: list[tuple[str, str]] = [] if len(models) == 1 else [("model", "left")]
    cols.append(("defense", "left"))
    if with_clean:
        cols.append(("clean\nacc", "right"))
    cells = []
    for e in entries:
        head = [] if len(models) == 1 else [escape(e["model"])]
        head.append(_row_label(given_label(report, "defense", e["defense"]) or e["defense"]))
        if with_clean:
            head.append(fmt_value(e["clean_accuracy"], "clean_accuracy"))
        cells.append(head)
    return cols, cells


def _print_compact(report: RunReport, console: Console, metric: str,
                   robust: dict) -> None:
    labels = attack_labels(report)
    models = {r["model_id"] for r in report.rows} or {e["model"] for e in report.matrix(metric)}
    of_model = f" (model {escape(next(iter(models)))})" if len(models) == 1 else ""
    heads, head_cells = _row_heads(report)
    rows = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for header, justify in heads:
        rows.add_column(header, justify=justify)  # type: ignore[arg-type]
    threats = threat_columns(report)
    if threats is not None:
        for label in threats[0]:
            rows.add_column(escape(label), justify="right")
    else:
        rows.add_column("robust acc (worst case)", justify="right")
    for rid, head in zip(report.row_ids, head_cells, strict=True):
        rows.add_row(*head, *(threats[1][rid] if threats is not None
                              else [_robust_text(robust.get(rid))]))
    if robust or threats is not None:
        console.print(f"[bold]rows{of_model}[/bold]", highlight=False)
        console.print(rows)
    unit = " (%)" if metric in PERCENT_METRICS else ""
    console.print(f"[bold]{escape(metric)}{unit}, white-box{of_model}: rows defense, columns "
                  "attacks (legend below; [yellow]![/yellow] sanity flags fired)[/bold]",
                  highlight=False)
    m_heads, m_cells = _row_heads(report, with_clean=False)
    for table in _compact_table(console, report, labels, m_heads, m_cells,
                                _matrix_cells(report, metric, None, compact=True)):
        console.print(table)
    console.print("attacks:", highlight=False)
    width = max(len(lab) for lab in labels.values())
    for aid, lab in labels.items():
        short = given_label(report, "attack", aid)
        text = f"{short}  ({aid})" if short else aid
        console.print(f"  {lab:<{width}}  {escape(text)}", highlight=False)
    for source in report.sources():
        console.print(f"[bold]{escape(metric)}{unit}, transfer: examples crafted on "
                      f"{escape(source)} (attack labels as above)[/bold]", highlight=False)
        for table in _compact_table(console, report, labels, m_heads, m_cells,
                                    _matrix_cells(report, metric, source, compact=True)):
            console.print(table)
    t_heads, t_cells = _row_heads(report, with_clean=False)
    entries = report.timings()
    console.print("[bold]timings (training incl. teacher; generation per cell)[/bold]",
                  highlight=False)
    for table in _compact_table(
            console, report, labels, [*t_heads, ("train", "right")],
            [[*h, fmt_seconds(e["train_seconds"])] for h, e in zip(t_cells, entries, strict=True)],
            [[fmt_seconds(e[a]) for a in report.attack_ids] for e in entries]):
        console.print(table)


def _print_wide(report: RunReport, console: Console, metric: str, robust: dict) -> None:
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


def print_report(report: RunReport, console: Console, metric: str = "success_rate",
                 wide: bool = False) -> None:
    run = report.run
    console.print(f"[bold]Run {run['id']}[/bold] {escape(run['suite_name'])} - {run['status']} "
                  f"(started {run['started']}, finished {run['finished'] or '-'})",
                  highlight=False)
    notice = report.incomplete_notice()
    if notice:
        console.print(f"[bold yellow]![/bold yellow] {escape(notice)}", highlight=False)
    robust = report.robust
    if wide or not report.attack_ids:
        _print_wide(report, console, metric, robust)
    else:
        _print_compact(report, console, metric, robust)
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
    for v in report.verdicts:
        console.print(f"[yellow]![/yellow] {escape(v['row_id'])}: {escape(v['text'])}",
                      highlight=False)
    if threat_columns(report) is not None:
        console.print(THREAT_NOTE, highlight=False)
    elif robust:
        console.print("Robust accuracy is an upper bound: the per-sample worst case over the "
                      "attacks listed, not a guarantee.", highlight=False)
    for cell_id, error in report.failures():
        console.print(f"[red]FAILED[/red] {escape(cell_id)}: {escape(error)}", highlight=False)
