"""Results -> report data model (the statistics layer); renderers live elsewhere."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from bench.errors import ConfigError
from bench.store import FINISHED, Store

#: metrics a matrix can show, with how to format them
PERCENT_METRICS = {"success_rate", "adv_accuracy", "clean_accuracy", "adv_confidence_mean"}
#: how many missing cell ids a report lists before "... and N more"
MISSING_CAP = 10


def unknown_metric(what: str, name: str, known: set[str]) -> ConfigError:
    near = difflib.get_close_matches(name, sorted(known), n=3)
    hint = f" Did you mean: {', '.join(near)}?" if near else ""
    return ConfigError(f"{what}: unknown metric '{name}'.{hint} Known: {', '.join(sorted(known))}")


def check_metric(report: RunReport, metric: str) -> None:
    """``--metric`` must name a metric the run's cells carry (or a standard one)."""
    known = PERCENT_METRICS | {m for c in report.cells for m in c["metrics"]}
    if metric not in known:
        raise unknown_metric("--metric", metric, known)


def listing(ids: list[str], cap: int = MISSING_CAP) -> str:
    """``a, b, c ... and 4 more``."""
    more = f" ... and {len(ids) - cap} more" if len(ids) > cap else ""
    return ", ".join(ids[:cap]) + more


@dataclass
class RunReport:
    run: dict[str, Any]
    rows: list[dict[str, Any]]
    cells: list[dict[str, Any]]
    attack_ids: list[str] = field(default_factory=list)
    row_ids: list[str] = field(default_factory=list)
    _store: Store | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for c in self.cells:
            c.setdefault("source_row", None)
            if c["attack_id"] not in self.attack_ids:
                self.attack_ids.append(c["attack_id"])
        for r in self.rows:
            if r["row_id"] not in self.row_ids:
                self.row_ids.append(r["row_id"])
        for c in self.cells:
            if c["row_id"] not in self.row_ids:
                self.row_ids.append(c["row_id"])

    @property
    def white_box(self) -> list[dict[str, Any]]:
        return [c for c in self.cells if c["source_row"] is None]

    @property
    def transfer(self) -> list[dict[str, Any]]:
        return [c for c in self.cells if c["source_row"] is not None]

    def cell(self, row_id: str, attack_id: str,
             source_row: str | None = None) -> dict[str, Any] | None:
        """The white-box cell (or, with ``source_row``, the transfer cell) of a row and attack."""
        for c in self.cells:
            if (c["row_id"] == row_id and c["attack_id"] == attack_id
                    and c["source_row"] == source_row):
                return c
        return None

    def sources(self) -> list[str]:
        """Rows whose adversarial examples were transferred to other rows."""
        out: list[str] = []
        for c in self.transfer:
            if c["source_row"] not in out:
                out.append(c["source_row"])
        return out

    def warnings(self, cell: dict[str, Any]) -> list[dict[str, str]]:
        return [f for f in cell["info"].get("flags", []) if f["status"] == "warn"]

    def row(self, row_id: str) -> dict[str, Any]:
        for r in self.rows:
            if r["row_id"] == row_id:
                return r
        model, defense = row_id.removeprefix("model=").split("/defense=", 1)
        return {"row_id": row_id, "model_id": model, "defense_id": defense, "status": "missing"}

    def matrix(self, metric: str = "success_rate",
               source_row: str | None = None) -> list[dict[str, Any]]:
        """One dict per row: model, defense, clean accuracy, then attack id -> value or status.

        White-box cells by default; with ``source_row``, the examples crafted on that row.
        """
        out = []
        for rid in self.row_ids:
            row = self.row(rid)
            entry: dict[str, Any] = {
                "model": row["model_id"], "defense": row["defense_id"],
                "clean_accuracy": row.get("clean_accuracy"),
            }
            for aid in self.attack_ids:
                c = self.cell(rid, aid, source_row)
                if c is None:
                    entry[aid] = None
                elif c["status"] != "ok":
                    entry[aid] = "FAILED"
                else:
                    entry[aid] = c["metrics"].get(metric)
            out.append(entry)
        return out

    def timings(self) -> list[dict[str, Any]]:
        """One dict per row: training seconds, then attack id -> generation seconds."""
        out = []
        for rid in self.row_ids:
            row = self.row(rid)
            entry: dict[str, Any] = {"model": row["model_id"], "defense": row["defense_id"],
                                     "train_seconds": row.get("train_seconds")}
            for aid in self.attack_ids:
                c = self.cell(rid, aid)
                entry[aid] = None if c is None else c["timings"].get("generate")
            out.append(entry)
        return out

    def robust_accuracy(self, store: Store | None = None) -> dict[str, dict[str, Any]]:
        """Per row: accuracy under the per-sample worst case over every attack (white-box and
        transfer) evaluated on it, over the samples all its cells share (RobustBench style).

        Slow attacks often run on fewer samples, which makes that shared prefix small, so each
        row also gets ``tiers``: for every distinct sample count n of its cells (ascending), the
        worst case over the first n samples and the cells that ran on at least n of them (the
        first tier is the headline; later tiers cover more samples with fewer attacks).
        An upper bound on robustness: only the listed attacks were tried.
        """
        store = store or self._store
        out: dict[str, dict[str, Any]] = {}
        if store is None:
            return out
        for rid in self.row_ids:
            cells = [c for c in self.cells if c["row_id"] == rid and c["status"] == "ok"
                     and c["samples"]]
            if not cells:
                continue
            correct = {c["id"]: [r["adv_pred"] == r["label"] and r["clean_pred"] == r["label"]
                                 for r in store.samples(c["id"])] for c in cells}
            tiers = []
            for n in sorted({len(v) for v in correct.values()}):
                covering = [v for v in correct.values() if len(v) >= n]
                robust = [all(v[i] for v in covering) for i in range(n)]
                if robust:
                    tiers.append({"samples": n, "attacks": len(covering),
                                  "robust_accuracy": sum(robust) / n})
            if tiers:
                out[rid] = {**tiers[0], "tiers": tiers}
        return out

    # ---- completeness ---------------------------------------------------------------------

    def missing_cells(self) -> list[str]:
        """Planned cells that were never stored, in plan order (runs recorded before the plan
        was stored: empty, see ``missing_count``)."""
        have = {c["cell_id"] for c in self.cells}
        return [c for c in self.run.get("planned") or [] if c not in have]

    def missing_count(self) -> int:
        if self.run.get("planned") is not None:
            return len(self.missing_cells())
        total = self.run.get("cells_total")
        return max(0, int(total) - len(self.cells)) if total is not None else 0

    @property
    def incomplete(self) -> bool:
        return self.run["status"] not in FINISHED or self.missing_count() > 0

    def completeness(self, cap: int = MISSING_CAP) -> dict[str, Any]:
        """Whether the run is incomplete, why, and which cells are missing (``listed``: the
        first ``cap`` of them, ``more``: how many are not listed)."""
        missing = self.missing_cells()
        total = self.run.get("cells_total")
        if total is None and self.run.get("planned") is not None:
            total = len(self.run["planned"])
        return {"incomplete": self.incomplete, "status": self.run["status"],
                "recorded_status": self.run.get("recorded_status", self.run["status"]),
                "cells_total": total, "cells_done": len(self.cells),
                "missing_count": self.missing_count(), "missing": missing,
                "listed": missing[:cap], "more": max(0, len(missing) - cap),
                "notice": self.incomplete_notice(cap),
                "summary": self.incomplete_notice(cap, ids=False)}

    def incomplete_notice(self, cap: int = MISSING_CAP, ids: bool = True) -> str | None:
        """One sentence saying that the run is incomplete and which cells are missing (the
        first ``cap`` ids unless not ``ids``); None for a complete run."""
        if not self.incomplete:
            return None
        run, status = self.run, self.run["status"]
        if status == "running":
            text = f"Run {run['id']} is still running"
        elif status == "interrupted" and run.get("recorded_status") == "running":
            text = f"Run {run['id']} is incomplete (interrupted: its process is gone)"
        else:
            text = f"Run {run['id']} is incomplete ({status})"
        n = self.missing_count()
        missing = self.missing_cells()
        total = run.get("cells_total") or len(run.get("planned") or []) or "?"
        if missing and ids:
            return f"{text}: {n} of {total} cells missing: {listing(missing, cap)}"
        if n:
            return f"{text}: {n} of {total} cells missing"
        return f"{text}; every planned cell is stored"

    def failures(self) -> list[tuple[str, str]]:
        return [(c["cell_id"], c["error"] or "") for c in self.cells if c["status"] != "ok"]

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "rows": self.rows, "cells": self.cells,
                "robust_accuracy": self.robust_accuracy(),
                "completeness": self.completeness()}


def load_report(store: Store, run: int | str | None, plugins: Any = None) -> RunReport:
    """A stored run; ``plugins`` (a loaded registry, optional) supplies the traits of cells
    stored before traits were (see :func:`fill_traits`)."""
    run_id = store.resolve_run(run)
    run_row = dict(store.run(run_id))
    for key in ("suite_json", "machine_json", "versions_json", "plugins_json",
                "class_names_json", "planned_json", "data_range_json"):
        run_row[key.removesuffix("_json")] = json.loads(run_row.pop(key, None) or "null")
    rows = []
    for r in store.rows(run_id):
        d = dict(r)
        d["training"] = json.loads(d.pop("training_json") or "[]")
        d["diagnostics"] = json.loads(d.pop("diagnostics_json", None) or "{}")
        rows.append(d)
    cells = store.cells(run_id)
    if plugins is not None:
        fill_traits(cells, plugins)
    _plan_order(run_row.get("planned"), rows, cells)
    flags = store.flags(run_id)
    for c in cells:
        if c["id"] in flags:
            c["info"]["flags"] = flags[c["id"]]
    return RunReport(run_row, rows, cells, _store=store)


def fill_traits(cells: list[dict[str, Any]], plugins: Any) -> None:
    """Give cells stored before traits existed the traits their plugin declares today: the
    registered class of the stored name, instantiated with the stored parameters. A plugin no
    longer installed, or one that refuses the parameters, leaves the cell without traits (and
    so without the flags and figures that need them)."""
    made: dict[str, dict[str, Any] | None] = {}
    for c in cells:
        for kind in ("attack", "defense"):
            entry = (c.get("plugins") or {}).get(kind)
            if not isinstance(entry, dict) or "traits" in entry or "name" not in entry:
                continue
            params = (c.get("params") or {}).get(kind) or {}
            key = json.dumps([kind, entry["name"], params], sort_keys=True, default=str)
            if key not in made:
                made[key] = _declared(plugins, kind, entry["name"], params)
            if made[key] is not None:
                entry["traits"] = made[key]


def _declared(plugins: Any, kind: str, name: str,
              params: dict[str, Any]) -> dict[str, Any] | None:
    try:
        cls = plugins.registry(kind).get(name)
        traits = cls(cls.Params.model_validate(params)).traits()
        return dict(traits.to_dict())
    except Exception:  # noqa: BLE001 - not installed, other parameters: no traits, no flags
        return None


def _plan_order(planned: list[str] | None, rows: list[dict[str, Any]],
                cells: list[dict[str, Any]]) -> None:
    """Put cells in the order of the run's plan and rows in the order of their first white-box
    cell there (executors store cells in the order they finish); what the plan does not name
    keeps its stored order, after the rest."""
    if not planned:
        return
    rank = {cell_id: i for i, cell_id in enumerate(planned)}
    cells.sort(key=lambda c: rank.get(c["cell_id"], len(rank)))
    row_rank: dict[str, int] = {}
    for c in cells:
        if c.get("source_row") is None:
            row_rank.setdefault(c["row_id"], len(row_rank))
    rows.sort(key=lambda r: row_rank.get(r["row_id"], len(row_rank)))


def fmt_value(value: Any, metric: str = "success_rate") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if metric in PERCENT_METRICS:
        return f"{100 * value:.1f}%"
    return f"{value:.3g}"


def fmt_seconds(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}s"
