"""How the reports name cells and rows: an attack's column (with the source row of transferred
examples), a row's label, an eps sweep's family."""

from __future__ import annotations

from bench.results.model import RunReport
from bench.results.records import Cell
from bench.results.stats import attack_traits


def column(cell: Cell, label: str | None = None) -> str:
    """The attack's column: its id, with the source row for transferred examples."""
    label = cell["attack_id"] if label is None else label
    return f"{label} \u2190 {short_row(cell['source_row'])}" if cell.get("source_row") else label


def short_row(row_id: str | None) -> str | None:  # model=cnn/defense=none -> cnn/none
    return row_id and row_id.removeprefix("model=").replace("/defense=", "/", 1)


def row_label(report: RunReport, row_id: str) -> str:
    row = report.row(row_id)
    models = {report.row(r)["model_id"] for r in report.row_ids}
    return row["defense_id"] if len(models) == 1 else f"{row['model_id']} / {row['defense_id']}"


def attack_family(cell: Cell) -> str:
    """The attack's column without its budget parameters (``fgsm[eps=0.1]`` -> ``fgsm``): the
    cells of one eps sweep share it."""
    traits = attack_traits(cell)
    budget = set(traits.budget_params) if traits is not None else set()
    name, _, inner = cell["attack_id"].partition("[")
    kept = [part for part in inner.removesuffix("]").split(",")
            if part and part.split("=", 1)[0] not in budget]
    return column(cell, f"{name}[{','.join(kept)}]" if kept else name)


def eps_of(cell: Cell) -> float | None:
    traits = attack_traits(cell)
    return None if traits is None or traits.eps is None else float(traits.eps)
