"""The results model: what every renderer (terminal, HTML, Markdown / CSV / JSON, benchmark
JSON, compare, third-party reporters) receives. :func:`load_results` reads a run from the
store (:mod:`bench.results.store`, the only module that speaks SQL) into typed records
(:mod:`bench.results.records`); flags, robust accuracy and masking verdicts come with it as
:mod:`bench.results.stats` computed and stored them at the end of the run.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.errors import ConfigError
from bench.results.metrics import remember
from bench.results.records import Cell, Flag, Row, Run, Sample
from bench.results.schema import FINISHED
from bench.results.store import Store

__all__ = ["Cell", "Flag", "Row", "Run", "RunResults", "Sample", "load_results"]

#: how many missing cell ids a report lists before "... and N more"
MISSING_CAP = 10


def unknown_metric(what: str, name: str, known: set[str]) -> ConfigError:
    near = difflib.get_close_matches(name, sorted(known), n=3)
    hint = f" Did you mean: {', '.join(near)}?" if near else ""
    return ConfigError(f"{what}: unknown metric '{name}'.{hint} Known: {', '.join(sorted(known))}")


def check_metric(report: RunResults, metric: str) -> None:
    """``--metric`` must name a metric the run's cells carry (or a declared one)."""
    from bench.results.metrics import PERCENT_METRICS, declared

    known = set(PERCENT_METRICS) | {m for c in report.cells for m in c.metrics}
    known |= {n for n, m in declared().items() if m.scope == "cell" and m.compute is not None}
    if metric not in known:
        raise unknown_metric("--metric", metric, known)


def listing(ids: list[str], cap: int = MISSING_CAP) -> str:
    """``a, b, c ... and 4 more``."""
    more = f" ... and {len(ids) - cap} more" if len(ids) > cap else ""
    return ", ".join(ids[:cap]) + more


def _as(cls: Any, items: Any) -> list[Any]:
    return [x if isinstance(x, cls) else cls.from_dict(x) for x in items]


@dataclass
class RunResults:
    """A run, its rows and cells (in plan order), and its statistics.

    ``robust``: row id -> worst-case robust accuracy (its tiers); ``verdicts``: the masking
    verdicts; both as stored at the end of the run (computed on load for runs stored before).
    ``samples(cell)`` and ``examples(cell)`` load a cell's per-sample results and kept images
    when a renderer needs them.
    """

    run: Run
    rows: list[Row]
    cells: list[Cell]
    robust: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    #: robust accuracy per threat model and robustness curves
    #: (:func:`bench.results.stats.threat_models`)
    threats: dict[str, Any] = field(default_factory=dict)
    loader: Callable[[int], list[Sample]] | None = field(default=None, repr=False)
    images: Callable[[int], list[tuple[Any, Any]]] | None = field(default=None, repr=False)
    attack_ids: list[str] = field(default_factory=list)
    row_ids: list[str] = field(default_factory=list)
    _outcomes: dict[Any, dict[int, bool]] = field(default_factory=dict, repr=False,
                                                  compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.run, Run):
            self.run = Run.from_dict(self.run)
        self.rows = _as(Row, self.rows)
        self.cells = _as(Cell, self.cells)
        for c in self.cells:
            if c.attack_id not in self.attack_ids:
                self.attack_ids.append(c.attack_id)
        for r in self.rows:
            if r.row_id not in self.row_ids:
                self.row_ids.append(r.row_id)
        for c in self.cells:
            if c.row_id not in self.row_ids:
                self.row_ids.append(c.row_id)

    @property
    def white_box(self) -> list[Cell]:
        return [c for c in self.cells if c.source_row is None]

    @property
    def transfer(self) -> list[Cell]:
        return [c for c in self.cells if c.source_row is not None]

    def samples(self, cell: Cell) -> list[Sample]:
        """A cell's per-sample results, in sample order (empty without a store)."""
        return self.loader(cell.id) if self.loader is not None else []

    def outcomes(self, cell: Cell) -> dict[int, bool]:
        """Sample index -> whether the attack succeeded, for the samples a cell counts in its
        success rate: untargeted, those classified correctly; targeted, those whose label is
        not the target (:func:`bench.results.metrics.cell_metrics`). Loaded once per cell;
        empty without a store."""
        if cell.id not in self._outcomes:
            self._outcomes[cell.id] = {
                s.idx: bool(s.success) for s in self.samples(cell) if s.success is not None
                and (s.clean_pred == s.label if s.target is None else s.label != s.target)}
        return self._outcomes[cell.id]

    def examples(self, cell: Cell) -> list[tuple[Any, Any]]:
        """The (clean, adversarial) images kept for a cell (``evaluation.examples``)."""
        return self.images(cell.id) if self.images is not None else []

    def cell(self, row_id: str, attack_id: str, source_row: str | None = None) -> Cell | None:
        """The white-box cell (or, with ``source_row``, the transfer cell) of a row and attack."""
        for c in self.cells:
            if c.row_id == row_id and c.attack_id == attack_id and c.source_row == source_row:
                return c
        return None

    def sources(self) -> list[str]:
        """Rows whose adversarial examples were transferred to other rows."""
        return list(dict.fromkeys(c.source_row for c in self.transfer if c.source_row))

    def warnings(self, cell: Cell) -> list[Flag]:
        return cell.warnings

    def row(self, row_id: str) -> Row:
        for r in self.rows:
            if r.row_id == row_id:
                return r
        model, _, defense = row_id.removeprefix("model=").partition("/defense=")
        return Row(row_id=row_id, model_id=model, defense_id=defense, status="missing")

    def matrix(self, metric: str = "success_rate",
               source_row: str | None = None) -> list[dict[str, Any]]:
        """One dict per row: model, defense, clean accuracy, then attack id -> value or status.

        White-box cells by default; with ``source_row``, the examples crafted on that row.
        """
        out = []
        for rid in self.row_ids:
            row = self.row(rid)
            entry: dict[str, Any] = {"model": row.model_id, "defense": row.defense_id,
                                     "clean_accuracy": row.clean_accuracy}
            for aid in self.attack_ids:
                c = self.cell(rid, aid, source_row)
                entry[aid] = (None if c is None else "FAILED" if c.status != "ok"
                              else c.metrics.get(metric))
            out.append(entry)
        return out

    def timings(self) -> list[dict[str, Any]]:
        """One dict per row: training seconds, then attack id -> generation seconds."""
        out = []
        for rid in self.row_ids:
            row = self.row(rid)
            entry: dict[str, Any] = {"model": row.model_id, "defense": row.defense_id,
                                     "train_seconds": row.train_seconds}
            for aid in self.attack_ids:
                c = self.cell(rid, aid)
                entry[aid] = None if c is None else c.timings.get("generate")
            out.append(entry)
        return out

    def robust_accuracy(self) -> dict[str, dict[str, Any]]:
        """Per row: the worst-case robust accuracy and its tiers, as stored (see
        :func:`bench.results.stats.robust_accuracy`)."""
        return self.robust

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
        return [(c.cell_id, c.error or "") for c in self.cells if c.status != "ok"]

    def to_dict(self) -> dict[str, Any]:
        cells = []
        for c in self.cells:
            d = c.to_dict()
            d["info"] = {**d["info"], "flags": d.pop("flags")} if c.flags else d["info"]
            cells.append(d)
        return {"run": self.run.to_dict(), "rows": [r.to_dict() for r in self.rows],
                "cells": cells, "robust_accuracy": self.robust, "verdicts": self.verdicts,
                "threat_models": self.threats,
                "completeness": self.completeness()}


#: the earlier name of :class:`RunResults`
RunReport = RunResults


def load_results(store: Store, run: int | str | None, plugins: Any = None) -> RunResults:
    """A stored run (``None``: the latest; ``-2``: the one before); ``plugins`` (a loaded
    registry, optional) supplies the traits of cells stored before traits were (see
    :func:`fill_traits`)."""
    from bench.results import stats, threat

    run_id = store.resolve_run(run)
    run_row = dict(store.run(run_id))
    for key in ("suite_json", "machine_json", "versions_json", "plugins_json",
                "class_names_json", "planned_json", "data_range_json"):
        run_row[key.removesuffix("_json")] = json.loads(run_row.pop(key, None) or "null")
    remember([d for p in run_row.get("plugins") or [] if isinstance(p, dict)
              for d in p.get("metrics") or [] if isinstance(d, dict)])
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
        c["flags"] = tuple(Flag.from_dict(f) for f in flags.get(c["id"], []))

    def loader(pk: int) -> list[Sample]:
        return [Sample.from_dict(dict(r)) for r in store.samples(pk)]

    results = RunResults(Run.from_dict(run_row), _as(Row, rows), _as(Cell, cells), loader=loader,
                         images=store.examples)
    stored = store.stats(run_id)
    if stored is None:  # a run stored before statistics were: computed now, not stored
        stored = stats.summary(results)
    results.robust = stored.get("robust_accuracy") or {}
    results.verdicts = stored.get("verdicts") or []
    if "threat_models" not in stored:  # stored before threat models were: computed now
        stored = {**stored, "threat_models": stats.threat_models(results)}
    results.threats = stored["threat_models"]
    threat.fill_intervals([*results.robust.values(),
                           *(e for es in results.threats.get("rows", {}).values() for e in es)])
    return results


#: the earlier name of :func:`load_results`
load_report = load_results


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
