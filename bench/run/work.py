"""What a task computes. A :class:`Workspace` holds one process's view of a run (plugins, data,
the model cache, the networks loaded now) and turns a task into a plain, picklable result. It
never opens the store, prints results or calls hooks: the driver's sink does that.

Networks are loaded when a task needs them and dropped when the next task does not: a row's
network is trained (or loaded from the cache) by its training task, and loaded again from the
cache by the cells that run on it or transfer to it, so that memory holds one row (plus its
transfer targets) at a time, whatever the size of the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.cache import ModelCache
from bench.checks import check_adversarial
from bench.diagnostics import row_diagnostics
from bench.errors import AttackCheckError, BenchError, ConfigError, PluginError, PluginInitError
from bench.grid import Cell
from bench.interfaces import Attack, DataSplit
from bench.pluginmanager import Plugins
from bench.progress import RunProgress
from bench.results.metrics import cell_metrics
from bench.run.faults import (
    PLUGIN_FAULTS,
    fault_text,
    instantiate,
    readonly_copy,
    sealed,
    trace_text,
)
from bench.run.plan import CellTask, Plan, RowTask, Task
from bench.targets import check_target, compute_targets
from bench.timing import perf_counter
from bench.training import HostTrainer, predict_logits


@dataclass
class Measurement:
    """One stored cell's worth of results: a white-box cell or one of its transfer cells."""

    status: str
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    per_sample: dict[str, np.ndarray] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: (clean, adversarial) images of the first samples (white-box cells only)
    examples: tuple[np.ndarray, np.ndarray] | None = None
    #: the traceback of a plugin's exception, for the driver to show
    trace: str | None = None


@dataclass
class CellResult:
    cell_id: str
    result: Measurement
    #: target row -> the examples evaluated on that row's network
    transfers: dict[str, Measurement] = field(default_factory=dict)


@dataclass
class RowResult:
    """A row's record for the store: status, clean accuracy, diagnostics, training records."""

    row_id: str
    record: dict[str, Any]
    trace: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.record["status"] == "ok")


Result = RowResult | CellResult


@dataclass
class _Network:
    """A deployed network of one row and its clean logits on the evaluation subset."""

    model: Any
    clean_logits: np.ndarray


class Workspace:
    """One process's side of a run: turns tasks into results."""

    def __init__(self, plan: Plan, plugins: Plugins, cache: ModelCache,
                 progress: RunProgress) -> None:
        self.plan = plan
        self.suite = plan.suite
        self.plugins = plugins
        self.cache = cache
        self.progress = progress
        #: the same console, no progress lines: for networks loaded again from the cache
        self._silent = RunProgress(True, progress.console)
        self._data: tuple[DataSplit, DataSplit] | None = None
        self._networks: dict[str, _Network] = {}

    # ---- data ---------------------------------------------------------------------------

    def data(self) -> tuple[DataSplit, DataSplit]:
        """(training split, seeded evaluation subset), loaded once, read-only."""
        if self._data is None:
            self._data = self._load_data()
        return self._data

    def _load_data(self) -> tuple[DataSplit, DataSplit]:
        train = self._load_split(self.suite.dataset.train)
        test = self._load_split(self.suite.dataset.test)
        source = self.plan.source
        if train.num_classes != test.num_classes or train.input_shape != test.input_shape:
            raise ConfigError(f"{source}: dataset.train and dataset.test disagree on "
                              "input shape or number of classes")
        for cell in self.plan.cells:
            spec = getattr(cell.attack.params, "target", None)
            check_target(spec, test.num_classes, f"{source}: attack {cell.attack.id}")
        # a fixed, seeded evaluation subset; cells with fewer samples take a prefix of it
        rng = np.random.default_rng(self.suite.evaluation.seed)
        order = rng.permutation(len(test))[: self.suite.evaluation.samples]
        # the host's own pristine copies: read-only, plugins only ever get views or copies
        evaluation = DataSplit(sealed(test.x[order]), sealed(test.y[order]), test.num_classes,
                               test.class_names, f"{test.name} (seeded subset of {len(order)})",
                               test.clip_values)
        train = DataSplit(sealed(train.x).view(), sealed(train.y).view(), train.num_classes,
                          train.class_names, train.name, train.clip_values)
        return train, evaluation

    def _load_split(self, split: str) -> DataSplit:
        try:
            return self.plan.dataset.load(split)
        except BenchError:
            raise
        except PLUGIN_FAULTS as exc:  # a dataset plugin's bug
            raise PluginError(f"{self.plan.source}: dataset '{self.suite.dataset.name}' failed "
                              f"to load '{split}': {fault_text(exc)}") from None

    # ---- tasks --------------------------------------------------------------------------

    def run(self, task: Task) -> Result:
        if isinstance(task, RowTask):
            return self.train_row(task)
        return self.run_cell(task)

    def train_row(self, task: RowTask) -> RowResult:
        """Train (or load) and defend one row's network; measure it on the evaluation data."""
        _, evaluation = self.data()
        first = self.plan.row_cell(task.row_id)
        record: dict[str, Any] = {"row_id": task.row_id, "model_id": first.model.id,
                                  "defense_id": first.defense.id,
                                  "eval_samples": len(evaluation)}
        self._keep_only({task.row_id})
        start = perf_counter()
        trainer: list[HostTrainer] = []
        try:
            network = self._defend(first, self.progress, trainer)
            diagnostics = row_diagnostics(network.model, evaluation.x, evaluation.y,
                                          network.clean_logits)
        except PLUGIN_FAULTS as exc:
            message = (str(exc) if isinstance(exc, PluginInitError)
                       else f"training/defense failed: {fault_text(exc)}")
            record.update(status="failed", error=message,
                          training=trainer[0].records if trainer else [])
            return RowResult(task.row_id, record, trace_text(exc))
        self._networks[task.row_id] = network
        pred = network.clean_logits.argmax(axis=1)
        record.update(status="ok", clean_accuracy=float((pred == evaluation.y).mean()),
                      balanced_accuracy=_balanced_accuracy(evaluation.y, pred),
                      train_seconds=perf_counter() - start, training=trainer[0].records,
                      diagnostics=diagnostics)
        return RowResult(task.row_id, record)

    def run_cell(self, task: CellTask) -> CellResult:
        """One white-box cell, then its examples on every transfer row."""
        cell = self.plan.cell(task.cell_id)
        self._keep_only({task.row_id, *task.transfer_rows})
        _, evaluation = self.data()
        n = cell.samples
        x, y = evaluation.x[:n], evaluation.y[:n]
        timings: dict[str, float] = {}
        try:
            network = self._network(task.row_id)
            clean_logits = network.clean_logits[:n]
            attack: Attack = instantiate(cell.attack)
            targets = compute_targets(getattr(cell.attack.params, "target", None), y,
                                      clean_logits, evaluation.num_classes,
                                      self.suite.evaluation.seed)
            x_adv, info = self._generate(attack, cell, network.model, x, y, targets, evaluation,
                                         timings)
            start = perf_counter()
            adv_logits = predict_logits(network.model, x_adv)
            metrics, per_sample = cell_metrics(x, x_adv, y, clean_logits, adv_logits, targets)
            timings["evaluate"] = perf_counter() - start
        except PLUGIN_FAULTS as exc:
            failed = Measurement("failed", fault_text(exc), timings=timings,
                                 trace=trace_text(exc))
            return CellResult(cell.id, failed, {t: Measurement("failed", "source cell failed")
                                                for t in task.transfer_rows})
        k = self.suite.evaluation.examples
        result = Measurement("ok", None, metrics, timings, per_sample, info,
                             (x[:k], x_adv[:k]) if k else None)
        transfers = {t: self._transfer(t, x, x_adv, y, targets, timings["generate"])
                     for t in task.transfer_rows}
        return CellResult(cell.id, result, transfers)

    def _transfer(self, row_id: str, x: np.ndarray, x_adv: np.ndarray, y: np.ndarray,
                  targets: np.ndarray | None, generate_seconds: float) -> Measurement:
        start = perf_counter()
        try:  # the target row's network is plugin code
            target = self._network(row_id)
            metrics, per_sample = cell_metrics(
                x, x_adv, y, target.clean_logits[: len(x)], predict_logits(target.model, x_adv),
                targets)
        except PLUGIN_FAULTS as exc:
            return Measurement("failed", fault_text(exc), trace=trace_text(exc))
        return Measurement("ok", None, metrics, {"evaluate": perf_counter() - start,
                                                  "source_generate": generate_seconds},
                           per_sample)

    # ---- networks -----------------------------------------------------------------------

    def _keep_only(self, row_ids: set[str]) -> None:
        for row_id in [r for r in self._networks if r not in row_ids]:
            del self._networks[row_id]

    def _network(self, row_id: str) -> _Network:
        """``row_id``'s network: in memory, or loaded (from the cache) now."""
        if row_id not in self._networks:
            self._networks[row_id] = self._defend(self.plan.row_cell(row_id), self._silent, [])
        return self._networks[row_id]

    def _defend(self, first: Cell, progress: RunProgress,
                trainer_out: list[HostTrainer]) -> _Network:
        """Build the row's network through its defense (which trains or loads what it needs)."""
        train, evaluation = self.data()
        model_plugin = instantiate(first.model)
        defense = instantiate(first.defense)
        trainer = HostTrainer(model_plugin,
                              self.plugins.plugin_version("model", first.model.name),
                              train, self.cache, self.suite.seed, progress)
        trainer_out.append(trainer)
        model = defense.apply(trainer)
        return _Network(model, predict_logits(model, evaluation.x))

    def _generate(self, attack: Attack, cell: Cell, model: Any, x: np.ndarray, y: np.ndarray,
                  targets: np.ndarray | None, evaluation: DataSplit,
                  timings: dict[str, float]) -> tuple[np.ndarray, dict[str, Any]]:
        """Run the attack batch by batch, checking every batch against its contract."""
        n, bs = len(x), self.suite.evaluation.batch_size
        bar = self.progress.add(f"attack {cell.attack.id}", n)
        parts, info = [], {}
        start = perf_counter()
        for i in range(0, n, bs):
            xb = x[i : i + bs]  # the host's pristine, read-only data
            handed = readonly_copy(xb)
            out = attack.generate(model, handed, np.array(y[i : i + bs]),
                                  None if targets is None else np.array(targets[i : i + bs]),
                                  evaluation.clip_values, evaluation.num_classes)
            if not np.array_equal(handed, xb, equal_nan=True):
                raise AttackCheckError("the attack changed its (read-only) input x in place")
            # a copy: an attack may reuse the array it returned for its next batch
            x_adv = np.array(out.x_adv, copy=True)
            check_adversarial(xb, x_adv, evaluation.clip_values, attack.bound())
            parts.append(x_adv)
            info.update(out.info)
            self.progress.advance(bar, len(xb))
        timings["generate"] = perf_counter() - start
        timings["per_sample"] = timings["generate"] / max(n, 1)
        self.progress.done(bar)
        return (np.concatenate(parts) if parts else x.copy()), info


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    recalls = [float((pred[y == c] == c).mean()) for c in np.unique(y)]
    return float(np.mean(recalls)) if recalls else float("nan")
