"""The driver's side of results: rows and cells into the store (one transaction each), the
progress display, ``FAILED`` lines, tracebacks of plugin errors, and the lifecycle hooks. Only
the driver process has a sink; workers never open the store."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.markup import escape

from bench.grid import Cell, Component, transfer_id
from bench.pluginmanager import Plugins
from bench.progress import RunProgress
from bench.results.store import Store
from bench.run.faults import PLUGIN_FAULTS, fault_text, instantiate
from bench.run.plan import Plan
from bench.run.work import CellResult, Measurement, RowResult
from bench.tracking import CellFinished, Trackers


def _labels(*components: Component) -> dict[str, str]:
    """Kind -> the suite's short label of each component that has one (renderers show it
    instead of the id; the id stays the key)."""
    return {c.kind: c.label for c in components if c.label is not None}


class Sink:
    def __init__(self, store: Store, run_id: int, plan: Plan, plugins: Plugins,
                 progress: RunProgress) -> None:
        self.store = store
        self.run_id = run_id
        self.plan = plan
        self.plugins = plugins
        self.progress = progress
        self.counts: Counter[str] = Counter()
        self._hook_failures: set[tuple[str, str]] = set()
        self._traits: dict[tuple[str, str], dict[str, Any] | None] = {}
        #: the suite's trackers (:meth:`start_trackers`)
        self.trackers = Trackers([], self._warn)

    def _warn(self, line: str) -> None:
        self.progress.console.print(line, highlight=False, markup=False, soft_wrap=True)

    def start_trackers(self) -> None:
        """Instantiate the suite's trackers; one whose ``__init__`` raises is left out with a
        warning."""
        for c in self.plan.trackers:
            try:
                self.trackers.trackers.append((c.id, instantiate(c)))
            except PLUGIN_FAULTS as exc:
                self._warn(f"warning: {fault_text(exc)}; the run goes on without it")

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.counts.items() if s != "ok")

    # ---- rows ---------------------------------------------------------------------------

    def row(self, result: RowResult, keep_stored: bool = False) -> None:
        """Store a row's record (``keep_stored``: a resumed run keeps its earlier ``ok``
        record; a failure replaces it)."""
        record = result.record
        if record["status"] != "ok":
            self._trace(result.row_id, result.trace)
            if keep_stored:
                self.store.forget(self.run_id, [result.row_id], [])
            self.store.add_row(self.run_id, record)
            return
        if not keep_stored:
            self.store.add_row(self.run_id, record)
        self.progress.log(f"{result.row_id}: clean accuracy "
                          f"{record['clean_accuracy']:.2%} on {record['eval_samples']} "
                          "samples")

    # ---- cells --------------------------------------------------------------------------

    def cell(self, result: CellResult, transfer_rows: list[str]) -> None:
        """A white-box cell and its transfer cells (every row in ``transfer_rows``: one the
        result does not cover is stored failed, its row having failed)."""
        cell = self.plan.cell(result.cell_id)
        self._trace(cell.id, result.result.trace)
        self._write(self._record(cell), result.result)
        for t in transfer_rows:
            m = result.transfers.get(t) or Measurement("failed", "target row failed")
            self._trace(transfer_id(t, cell.attack.id, cell.row), m.trace)
            self._write(self._transfer_record(cell, t), m)

    def lost(self, cell: Cell, transfer_rows: list[str], status: str, message: str,
             transfer_message: str | None = None) -> None:
        """A cell that produced no result (its row failed, its worker died or timed out); its
        transfer cells get the same status."""
        why = transfer_message or f"source cell {status}"
        self.cell(CellResult(cell.id, Measurement(status, message),
                             {t: Measurement(status, why) for t in transfer_rows}),
                  transfer_rows)

    def _record(self, cell: Cell) -> dict[str, Any]:
        return {
            "cell_id": cell.id, "row_id": cell.row, "model_id": cell.model.id,
            "defense_id": cell.defense.id, "attack_id": cell.attack.id,
            "attack_name": cell.attack.name, "samples": cell.samples,
            "plugins": {c.kind: self._plugin(c) for c in (cell.model, cell.defense, cell.attack)},
            "params": {c.kind: c.resolved_params() for c in (cell.model, cell.defense,
                                                              cell.attack)},
            "labels": _labels(cell.model, cell.defense, cell.attack),
        }

    def _transfer_record(self, source: Cell, target_row: str) -> dict[str, Any]:
        """A transfer cell: ``source``'s examples evaluated on ``target_row``'s network."""
        target = self.plan.row_cell(target_row)
        record = self._record(source)
        record.update(
            cell_id=transfer_id(target_row, source.attack.id, source.row), row_id=target_row,
            model_id=target.model.id, defense_id=target.defense.id, source_row=source.row,
            info={"source_cell": source.id},
        )
        record["params"].update(model=target.model.resolved_params(),
                                defense=target.defense.resolved_params())
        record["plugins"].update(model=self._plugin(target.model),
                                 defense=self._plugin(target.defense))
        record["labels"] = _labels(target.model, target.defense, source.attack)
        return record

    def _plugin(self, c: Component) -> dict[str, Any]:
        """Name, version, provider and declared traits of a cell's plugin."""
        out: dict[str, Any] = {"name": c.name,
                               "version": self.plugins.plugin_version(c.kind, c.name),
                               "provider": self.plugins.registry(c.kind).provider(c.name)}
        traits = self._declared(c)
        if traits is not None:
            out["traits"] = traits
        if c.label is not None:  # stored with the plugin (plugins_json) until the store has
            out["label"] = c.label  # a place of its own for ``labels``
        return out

    def _declared(self, c: Component) -> dict[str, Any] | None:
        """``c``'s traits (attacks and defenses), once per component; a plugin whose
        ``traits()`` fails gets none (a warning, not a lost cell; one whose ``__init__`` fails
        has its cells failed with that line already)."""
        key = (c.kind, c.id)
        if key not in self._traits:
            self._traits[key] = None
            if hasattr(c.cls, "traits"):
                try:
                    plugin = instantiate(c)
                except PLUGIN_FAULTS:
                    return None
                try:
                    self._traits[key] = plugin.traits().to_dict()
                except PLUGIN_FAULTS as exc:
                    self.progress.console.print(
                        f"warning: {c.kind} '{c.id}': traits() failed: {fault_text(exc)}; "
                        "its cells get no sanity flags", highlight=False, markup=False,
                        soft_wrap=True)
        return self._traits[key]

    def _write(self, record: dict[str, Any], m: Measurement) -> None:
        record = {**record, "status": m.status, "error": m.error,
                  "info": {**m.info, **record.get("info", {})}}
        self.store.add_cell(self.run_id, record, m.metrics, m.timings, m.per_sample, m.examples)
        self.counts[m.status] += 1
        if m.status != "ok":  # shown with --quiet too: a failure is not progress
            self.progress.console.print(f"[red]FAILED[/red] {escape(record['cell_id'])}: "
                                        f"{escape(m.error or '')}", highlight=False,
                                        soft_wrap=True)
        event = CellFinished(
            run_id=self.run_id, cell_id=record["cell_id"], row_id=record["row_id"],
            attack_id=record["attack_id"], status=m.status, error=m.error,
            metrics=dict(m.metrics), timings=dict(m.timings), flags=[],
            params={k: dict(v) for k, v in record["params"].items()},
            traits={k: dict(p["traits"]) for k, p in record["plugins"].items()
                    if p.get("traits") is not None},
            source_row=record.get("source_row"))
        self.notify("bench_cell_finished", **vars(event))
        self.trackers.call("cell_finished", event)

    # ---- hooks and tracebacks -----------------------------------------------------------

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call a lifecycle hook; an implementation that raises costs one warning (the first
        time for that plugin and hook), not the run."""
        for plugin, exc in self.plugins.notify(hook, **kwargs):
            if (plugin, hook) not in self._hook_failures:
                self._hook_failures.add((plugin, hook))
                text = fault_text(exc).removeprefix("plugin ")
                self.progress.console.print(
                    f"warning: plugin '{plugin}' failed in {hook}: {text}",
                    highlight=False, markup=False, soft_wrap=True)

    def _trace(self, where: str, trace: str | None) -> None:
        """A plugin's exception that is not a BenchError: its traceback, for debugging."""
        if trace and not self.progress.quiet:
            self.progress.console.print(f"[dim]{escape(where)}: {escape(trace)}[/dim]",
                                        highlight=False)
