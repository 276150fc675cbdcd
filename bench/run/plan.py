"""A suite resolved into tasks: one training task per row, one cell task per white-box cell.

Ids are derived from the resolved configuration only (``model=cnn/defense=none/attack=fgsm[eps=
0.1]``; transfer cells ``.../source=cnn|none``), never from run order or run id, so that they are
the same in every run, process and machine: ``--resume``, ``--shard`` and ``bench merge`` rely on
it. What is common to every cell of a run (samples, seeds, dataset) is the run's configuration,
stored with the run and compared by ``--resume`` and ``bench merge``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from bench.errors import ConfigError, PluginError
from bench.grid import (
    Cell,
    Component,
    expand_grid,
    transfer_id,
    transfer_plan,
    with_default_defenses,
)
from bench.interfaces import Dataset
from bench.pluginmanager import Plugins
from bench.run.faults import PLUGIN_FAULTS, fault_text
from bench.suite import Suite, describe_validation_error


@dataclass(frozen=True)
class RowTask:
    """Train (or load from the cache) and defend the network of one model x defense row, and
    measure it on the evaluation data."""

    row_id: str


@dataclass(frozen=True)
class CellTask:
    """Attack one row's network; evaluate the examples on ``transfer_rows`` too."""

    cell_id: str
    row_id: str
    transfer_rows: tuple[str, ...] = ()
    #: seconds this cell may take (None: no limit); enforced by isolating executors
    timeout: float | None = None


Task = RowTask | CellTask


@dataclass
class Plan:
    """A validated suite: the dataset plugin, every cell and which rows each one transfers to."""

    suite: Suite
    source: str
    dataset: Dataset
    cells: list[Cell]
    #: the suite's trackers, validated (instantiated by the driver only)
    trackers: list[Component] = field(default_factory=list)
    #: white-box cell id -> the rows its examples are evaluated on
    transfers: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.transfers = transfer_plan(self.cells, self.suite)
        self._by_id = {c.id: c for c in self.cells}
        self._rows: dict[str, Cell] = {}
        for c in self.cells:
            self._rows.setdefault(c.row, c)

    def cell(self, cell_id: str) -> Cell:
        return self._by_id[cell_id]

    def row_cell(self, row_id: str) -> Cell:
        """The first cell of ``row_id`` (its model and defense components)."""
        return self._rows[row_id]

    @property
    def row_ids(self) -> list[str]:
        return list(self._rows)

    def ids_of(self, cell: Cell) -> list[str]:
        """A white-box cell's id and the ids of its transfer cells."""
        return [cell.id] + [transfer_id(t, cell.attack.id, cell.row)
                            for t in self.transfers.get(cell.id, [])]

    def cell_ids(self, cells: list[Cell] | None = None) -> list[str]:
        """Every cell id (of ``cells``, default all): each white-box cell, then its transfers."""
        return [i for cell in (self.cells if cells is None else cells)
                for i in self.ids_of(cell)]

    def shard(self, index: int, count: int) -> list[Cell]:
        """The white-box cells of shard ``index`` of ``count`` (a stable hash partition of the
        cell ids; transfer cells travel with their source cell)."""
        from bench.shard import in_shard

        return [c for c in self.cells if in_shard(c.id, index, count)]

    def rows_needed(self, cells: list[Cell]) -> list[str]:
        """The rows ``cells`` run on or transfer to, in plan order."""
        needed = {c.row for c in cells} | {t for c in cells for t in self.transfers.get(c.id, [])}
        return [r for r in self._rows if r in needed]


def plan_suite(suite: Suite, source: str, plugins: Plugins) -> Plan:
    """Resolve every plugin and validate every parameter (``bench validate`` stops here)."""
    try:
        ds_cls = plugins.registry("dataset").get(suite.dataset.name)
    except PluginError as exc:
        raise PluginError(f"{source}: dataset.name: {exc}") from None
    try:
        ds_params = ds_cls.Params.model_validate(suite.dataset.params)
    except ValidationError as exc:
        raise ConfigError(
            f"{source}: {describe_validation_error(exc, ('dataset', 'params'))}"
        ) from None
    suite = with_default_defenses(suite, plugins, source)  # stored as it ran
    cells = expand_grid(suite, plugins, source)
    try:
        dataset = ds_cls(ds_params)
    except PLUGIN_FAULTS as exc:
        raise PluginError(f"{source}: dataset '{suite.dataset.name}' failed in __init__: "
                          f"{fault_text(exc)}") from None
    return Plan(suite, source, dataset, cells, resolve_trackers(suite, plugins, source))


def resolve_trackers(suite: Suite, plugins: Plugins, source: str) -> list[Component]:
    """The suite's ``trackers``, each plugin found and its parameters validated (a list
    value is a value, not a sweep; paths resolve against the suite's folder)."""
    from pathlib import Path

    if not suite.trackers:
        return []
    path = Path(source)
    context = {"suite_dir": str(path.resolve().parent)} if path.is_file() else {}
    registry = plugins.registry("tracker")
    out: list[Component] = []
    for i, spec in enumerate(suite.trackers):
        where = f"{source}: trackers[{i}]"
        try:
            cls = registry.get(spec.name)
        except PluginError as exc:
            raise PluginError(f"{where}.name: {exc}") from None
        try:
            params = cls.Params.model_validate(spec.params, context=context)
        except ValidationError as exc:
            raise ConfigError(f"{where}.{describe_validation_error(exc, ('params',))}") from None
        tid = spec.label or (spec.name if sum(t.name == spec.name for t in suite.trackers) == 1
                             else f"{spec.name}[{i}]")
        out.append(Component("tracker", spec.name, cls, params, tid, spec.label))
    return out
