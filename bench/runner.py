"""Runs a suite: trains (or loads) each model x defense once, then every attack cell on it."""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from rich.markup import escape

from bench import provenance
from bench.cache import ModelCache
from bench.checks import check_adversarial
from bench.diagnostics import row_diagnostics
from bench.errors import (
    AttackCheckError,
    BenchError,
    ConfigError,
    PluginError,
    PluginInitError,
)
from bench.grid import Cell, Component, expand_grid, transfer_id, transfer_plan
from bench.interfaces import Attack, Dataset, DataSplit
from bench.interrupts import Interrupted, catch_signals, is_real_interrupt, received_signal
from bench.metrics import cell_metrics
from bench.pluginmanager import Plugins
from bench.progress import RunProgress
from bench.store import Store
from bench.suite import Suite, describe_validation_error
from bench.targets import check_target, compute_targets
from bench.timing import perf_counter
from bench.training import HostTrainer, predict_logits


@dataclass
class Plan:
    """A validated suite: the dataset plugin and every cell, ready to run."""

    suite: Suite
    raw: dict[str, Any]
    source: str
    dataset: Dataset
    cells: list[Cell]


@dataclass
class RunResult:
    run_id: int
    counts: Counter[str]

    @property
    def failed(self) -> int:
        return sum(n for status, n in self.counts.items() if status != "ok")


def plan_suite(suite: Suite, raw: dict[str, Any], source: str, plugins: Plugins) -> Plan:
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
    cells = expand_grid(suite, plugins, source)
    try:
        dataset = ds_cls(ds_params)
    except PLUGIN_FAULTS as exc:
        raise PluginError(f"{source}: dataset '{suite.dataset.name}' failed in __init__: "
                          f"{fault_text(exc)}") from None
    return Plan(suite, raw, source, dataset, cells)


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    recalls = [float((pred[y == c] == c).mean()) for c in np.unique(y)]
    return float(np.mean(recalls)) if recalls else float("nan")


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BenchError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


#: what plugin code may raise without ending the run: a plugin's ``sys.exit()`` or
#: ``KeyboardInterrupt`` fails its cell like any exception (a real Ctrl-C is told apart)
PLUGIN_FAULTS = (Exception, SystemExit, KeyboardInterrupt)


def fault_text(exc: BaseException) -> str:
    """One line for an exception raised by plugin code. A signal delivered to the process while
    plugin code ran (whatever the plugin turned it into) is re-raised as :class:`Interrupted`."""
    if isinstance(exc, KeyboardInterrupt) and is_real_interrupt(exc):
        raise exc
    signum = received_signal()
    if signum is not None:
        raise Interrupted(signum) from exc
    if isinstance(exc, SystemExit | KeyboardInterrupt):
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb else ""
        return f"plugin raised {exc!r}{where}"
    text = _error_text(exc)
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        text += " (inputs handed to plugins are read-only: copy an array before changing it)"
    return text


def _instantiate(component: Component) -> Any:
    try:
        return component.instantiate()
    except PLUGIN_FAULTS as exc:
        raise PluginInitError(f"{component.kind} '{component.name}' failed in __init__: "
                              f"{fault_text(exc)}") from exc


def _sealed(a: np.ndarray) -> np.ndarray:
    """``a`` as a read-only array that owns its memory (copied when it is a view): views of it
    handed to plugins cannot be made writeable again."""
    owner = a if a.base is None and type(a) is np.ndarray else np.array(a, copy=True)
    owner.flags.writeable = False
    return owner


def _readonly_copy(a: np.ndarray) -> np.ndarray:
    """A private read-only copy of ``a`` for one plugin call (a view, so it stays read-only)."""
    return _sealed(np.array(a, copy=True)).view()


class Runner:
    def __init__(self, plan: Plan, plugins: Plugins, store: Store, cache: ModelCache,
                 progress: RunProgress, resume: int | None = None) -> None:
        #: ``bench run --resume``: the run to finish in place (see :mod:`bench.resume`)
        self.resume = resume
        self.plan = plan
        self.plugins = plugins
        self.store = store
        self.cache = cache
        self.progress = progress
        self.suite = plan.suite
        self.transfers = transfer_plan(plan.cells, plan.suite)
        self.counts: Counter[str] = Counter()
        self._hook_failures: set[tuple[str, str]] = set()
        #: white-box cells a resumed run finds done (they and their transfer cells stored ok)
        self._done: set[str] = set()

    # ---- data ---------------------------------------------------------------------------

    def _load_data(self) -> tuple[DataSplit, DataSplit]:
        train = self._load_split(self.suite.dataset.train)
        test = self._load_split(self.suite.dataset.test)
        if train.num_classes != test.num_classes or train.input_shape != test.input_shape:
            raise ConfigError(f"{self.plan.source}: dataset.train and dataset.test disagree on "
                              "input shape or number of classes")
        for cell in self.plan.cells:
            spec = getattr(cell.attack.params, "target", None)
            check_target(spec, test.num_classes, f"{self.plan.source}: attack {cell.attack.id}")
        # a fixed, seeded evaluation subset; cells with fewer samples take a prefix of it
        rng = np.random.default_rng(self.suite.evaluation.seed)
        order = rng.permutation(len(test))[: self.suite.evaluation.samples]
        # the host's own pristine copies: read-only, plugins only ever get views or copies
        evaluation = DataSplit(_sealed(test.x[order]), _sealed(test.y[order]), test.num_classes,
                               test.class_names, f"{test.name} (seeded subset of {len(order)})",
                               test.clip_values)
        train = DataSplit(_sealed(train.x).view(), _sealed(train.y).view(), train.num_classes,
                          train.class_names, train.name, train.clip_values)
        return train, evaluation

    def _load_split(self, split: str) -> DataSplit:
        try:
            return self.plan.dataset.load(split)
        except BenchError:
            raise
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a dataset plugin's bug
            raise PluginError(f"{self.plan.source}: dataset '{self.suite.dataset.name}' failed "
                              f"to load '{split}': {fault_text(exc)}") from None

    # ---- the run ------------------------------------------------------------------------

    def cell_ids(self) -> list[str]:
        """Every cell id of the run: white-box cells, each followed by its transfer cells."""
        return [i for cell in self.plan.cells for i in self._ids_of(cell)]

    def run(self) -> RunResult:
        """Run every cell. SIGINT / SIGTERM end the run (:class:`Interrupted`, a
        KeyboardInterrupt); a plugin's own ``sys.exit()`` or KeyboardInterrupt fails its cell."""
        with catch_signals():
            return self._run()

    def _run(self) -> RunResult:
        cells = self.plan.cells
        train, evaluation = self._load_data()
        plugin_info = [
            {"name": p.name, "distribution": p.distribution, "version": p.version,
             "provides": p.provides} for p in self.plugins.loaded
        ]
        ids = self.cell_ids()
        done: set[str] = set()
        kept_rows: set[str] = set()
        if self.resume is None:
            run_id = self.store.create_run(
                self.suite.name, self.plan.source, self.suite.model_dump(mode="json"),
                self.suite.seed, provenance.git_commit(), provenance.machine(),
                provenance.package_versions(), plugin_info, len(ids),
                list(evaluation.class_names), cell_ids=ids,
            )
        else:
            run_id = self.resume
            done, kept_rows = self._resume(run_id)
        self._done = done
        self._notify("bench_run_start", run_id=run_id,
                     suite=self.suite.model_dump(mode="json"), cell_ids=ids)
        self.progress.log(escape(f"run {run_id}: {len(ids)} cells, train {train.name} "
                                 f"({len(train)}), evaluate {evaluation.name}"))
        status = "interrupted"
        try:
            with self.progress.live():
                overall = self.progress.add("cells", len(ids))
                pending = [c for c in cells if c.id not in done]
                self.progress.advance(overall, len(ids) - sum(len(self._ids_of(c))
                                                              for c in pending))
                needed = {c.row for c in pending} | {
                    t for c in pending for t in self.transfers.get(c.id, [])}
                rows: dict[str, _Row | None] = {}
                for row_id, group in groupby(cells, key=lambda c: c.row):
                    if row_id in needed:
                        rows[row_id] = self._prepare_row(run_id, list(group), train,
                                                         evaluation, row_id in kept_rows)
                for cell in pending:
                    self._run_cell(run_id, cell, rows, evaluation)
                    self.progress.advance(overall, len(self._ids_of(cell)))
            status = "finished" if not self._failed() else "finished-with-failures"
        finally:
            self.store.finish_run(run_id, status)
            # flag what was stored, an interrupted run included
            from bench.flags import update_flags

            update_flags(self.store, run_id)
            self._notify("bench_run_end", run_id=run_id, status=status,
                         summary=dict(self.counts))
        return RunResult(run_id, self.counts)

    def _ids_of(self, cell: Cell) -> list[str]:
        """A white-box cell's id and the ids of its transfer cells."""
        return [cell.id] + [transfer_id(t, cell.attack.id, cell.row)
                            for t in self.transfers.get(cell.id, [])]

    def _resume(self, run_id: int) -> tuple[set[str], set[str]]:
        """Reopen ``run_id``: the white-box cells that are done (they and their transfer cells
        stored ``ok``), and the rows whose stored record stays. Stored remains of everything
        else are deleted, to be computed again."""
        stored_rows, stored_cells = self.store.stored_statuses(run_id)
        done = {c.id for c in self.plan.cells
                if all(stored_cells.get(i) == "ok" for i in self._ids_of(c))}
        stale_cells = [i for c in self.plan.cells if c.id not in done for i in self._ids_of(c)
                       if i in stored_cells]
        stale_rows = [r for r, status in stored_rows.items() if status != "ok"]
        self.store.forget(run_id, stale_rows, stale_cells)
        self.store.reopen_run(run_id)
        n_done = sum(len(self._ids_of(c)) for c in self.plan.cells if c.id in done)
        self.counts["ok"] += n_done
        self.progress.log(escape(f"resuming run {run_id}: {n_done} of "
                                 f"{len(self.cell_ids())} cells stored, the rest runs now"))
        return done, {r for r, status in stored_rows.items() if status == "ok"}

    def _failed(self) -> int:
        return sum(n for s, n in self.counts.items() if s != "ok")

    def _prepare_row(self, run_id: int, cells: list[Cell], train: DataSplit,
                     evaluation: DataSplit, stored: bool = False) -> _Row | None:
        """Train (or load) and defend one model; None when that fails (its cells are failed)."""
        first = cells[0]
        row: dict[str, Any] = {"row_id": first.row, "model_id": first.model.id,
                               "defense_id": first.defense.id, "eval_samples": len(evaluation)}
        trainer: HostTrainer | None = None
        start = perf_counter()
        try:
            model_plugin = _instantiate(first.model)
            defense = _instantiate(first.defense)
            trainer = HostTrainer(model_plugin,
                                  self.plugins.plugin_version("model", first.model.name),
                                  train, self.cache, self.suite.seed, self.progress)
            model = defense.apply(trainer)
            clean_logits = predict_logits(model, evaluation.x)
            diagnostics = row_diagnostics(model, evaluation.x, evaluation.y, clean_logits)
        except PLUGIN_FAULTS as exc:
            if isinstance(exc, PluginInitError):
                message = str(exc)
            else:
                message = f"training/defense failed: {fault_text(exc)}"
            self._report_failure(first.row, exc)
            if stored:  # resumed: the row's earlier record gives way to this failure
                self.store.forget(run_id, [first.row], [])
            self.store.add_row(run_id, {**row, "status": "failed", "error": message,
                                        "training": trainer.records if trainer else []})
            for cell in cells:
                if cell.id not in self._done:
                    self._store_cell(run_id, cell, "failed", message, {}, {}, None, {})
            return None
        pred = clean_logits.argmax(axis=1)
        row.update(status="ok", clean_accuracy=float((pred == evaluation.y).mean()),
                   balanced_accuracy=_balanced_accuracy(evaluation.y, pred),
                   train_seconds=perf_counter() - start, training=trainer.records,
                   diagnostics=diagnostics)
        if not stored:
            self.store.add_row(run_id, row)
        self.progress.log(escape(f"{first.row}: clean accuracy {row['clean_accuracy']:.2%} "
                                 f"on {len(evaluation)} samples"))
        return _Row(model, clean_logits)

    def _run_cell(self, run_id: int, cell: Cell, rows: dict[str, _Row | None],
                  evaluation: DataSplit) -> None:
        """One white-box cell, then its transfer cells."""
        state = rows[cell.row]
        targets_rows = self.transfers.get(cell.id, [])
        if state is None:  # the row failed: its cells are stored already
            for t in targets_rows:
                self._store_transfer(run_id, cell, t, "failed", "source row failed", {}, {}, None)
            return
        n = cell.samples
        x, y, clean_logits = evaluation.x[:n], evaluation.y[:n], state.clean_logits[:n]
        timings: dict[str, float] = {}
        try:
            attack: Attack = _instantiate(cell.attack)
            targets = compute_targets(getattr(cell.attack.params, "target", None), y,
                                      clean_logits, evaluation.num_classes,
                                      self.suite.evaluation.seed)
            x_adv, info = self._generate(attack, cell, state.model, x, y, targets, evaluation,
                                         timings)
            start = perf_counter()
            adv_logits = predict_logits(state.model, x_adv)
            metrics, per_sample = cell_metrics(x, x_adv, y, clean_logits, adv_logits, targets)
            timings["evaluate"] = perf_counter() - start
        except PLUGIN_FAULTS as exc:
            message = fault_text(exc)
            self._report_failure(cell.id, exc)
            self._store_cell(run_id, cell, "failed", message, {}, timings, None, {})
            for t in targets_rows:
                self._store_transfer(run_id, cell, t, "failed", "source cell failed", {}, {},
                                     None)
            return
        k = self.suite.evaluation.examples
        self._store_cell(run_id, cell, "ok", None, metrics, timings, per_sample, info,
                         (x[:k], x_adv[:k]) if k else None)
        for t in targets_rows:
            target = rows[t]
            if target is None:
                self._store_transfer(run_id, cell, t, "failed", "target row failed", {}, {},
                                     None)
                continue
            start = perf_counter()
            try:
                t_metrics, t_per_sample = cell_metrics(
                    x, x_adv, y, target.clean_logits[:n], predict_logits(target.model, x_adv),
                    targets)
            except PLUGIN_FAULTS as exc:  # the target row's network is plugin code
                message = fault_text(exc)
                self._report_failure(t, exc)
                self._store_transfer(run_id, cell, t, "failed", message, {}, {}, None)
                continue
            t_timings = {"evaluate": perf_counter() - start,
                         "source_generate": timings["generate"]}
            self._store_transfer(run_id, cell, t, "ok", None, t_metrics, t_timings, t_per_sample)

    def _generate(self, attack: Attack, cell: Cell, model: Any, x: np.ndarray, y: np.ndarray,
                  targets: np.ndarray | None, evaluation: DataSplit,
                  timings: dict[str, float]) -> tuple[np.ndarray, dict[str, Any]]:
        """Run the attack batch by batch, checking every batch against its contract."""
        n, bs = len(x), self.suite.evaluation.batch_size
        task = self.progress.add(f"attack {cell.attack.id}", n)
        parts, info = [], {}
        start = perf_counter()
        for i in range(0, n, bs):
            xb = x[i : i + bs]  # the host's pristine, read-only data
            handed = _readonly_copy(xb)
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
            self.progress.advance(task, len(xb))
        timings["generate"] = perf_counter() - start
        timings["per_sample"] = timings["generate"] / max(n, 1)
        self.progress.done(task)
        return (np.concatenate(parts) if parts else x.copy()), info

    def _record(self, cell: Cell) -> dict[str, Any]:
        return {
            "cell_id": cell.id, "row_id": cell.row, "model_id": cell.model.id,
            "defense_id": cell.defense.id, "attack_id": cell.attack.id,
            "attack_name": cell.attack.name, "samples": cell.samples,
            "plugins": {c.kind: {"name": c.name,
                                 "version": self.plugins.plugin_version(c.kind, c.name),
                                 "provider": self.plugins.registry(c.kind).provider(c.name)}
                        for c in (cell.model, cell.defense, cell.attack)},
            "params": {c.kind: c.resolved_params() for c in (cell.model, cell.defense,
                                                              cell.attack)},
        }

    def _store_cell(self, run_id: int, cell: Cell, status: str, error: str | None,
                    metrics: dict[str, Any], timings: dict[str, float],
                    per_sample: dict[str, np.ndarray] | None, info: dict[str, Any],
                    examples: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        record = {**self._record(cell), "status": status, "error": error, "info": info}
        self._write(run_id, record, metrics, timings, per_sample, examples)

    def _store_transfer(self, run_id: int, source: Cell, target_row: str, status: str,
                        error: str | None, metrics: dict[str, Any], timings: dict[str, float],
                        per_sample: dict[str, np.ndarray] | None) -> None:
        """A transfer cell: ``source``'s examples evaluated on ``target_row``'s model."""
        target = next(c for c in self.plan.cells if c.row == target_row)
        record = self._record(source)
        record.update(
            cell_id=transfer_id(target_row, source.attack.id, source.row), row_id=target_row,
            model_id=target.model.id, defense_id=target.defense.id, source_row=source.row,
            status=status, error=error, info={"source_cell": source.id},
        )
        record["params"].update(model=target.model.resolved_params(),
                                defense=target.defense.resolved_params())
        self._write(run_id, record, metrics, timings, per_sample)

    def _write(self, run_id: int, record: dict[str, Any], metrics: dict[str, Any],
               timings: dict[str, float], per_sample: dict[str, np.ndarray] | None,
               examples: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.store.add_cell(run_id, record, metrics, timings, per_sample, examples)
        status, error = record["status"], record["error"]
        self.counts[status] += 1
        if status != "ok":  # shown with --quiet too: a failure is not progress
            self.progress.console.print(f"[red]FAILED[/red] {escape(record['cell_id'])}: "
                                        f"{escape(error or '')}", highlight=False,
                                        soft_wrap=True)
        self._notify("bench_cell_finished", run_id=run_id, cell_id=record["cell_id"],
                     status=status, metrics=metrics)

    def _notify(self, hook: str, **kwargs: Any) -> None:
        """Call a lifecycle hook; an implementation that raises costs one warning (the first
        time for that plugin and hook), not the run."""
        for plugin, exc in self.plugins.notify(hook, **kwargs):
            if (plugin, hook) not in self._hook_failures:
                self._hook_failures.add((plugin, hook))
                text = fault_text(exc).removeprefix("plugin ")
                self.progress.console.print(
                    f"warning: plugin '{plugin}' failed in {hook}: {text}",
                    highlight=False, markup=False, soft_wrap=True)

    def _report_failure(self, where: str, exc: BaseException) -> None:
        """A plugin raised something that is not a BenchError: keep the traceback for debugging."""
        if isinstance(exc, PluginInitError) and exc.__cause__ is not None:
            exc = exc.__cause__
        if isinstance(exc, BenchError):
            return
        if not self.progress.quiet:
            tb = "".join(traceback.format_exception(exc)).rstrip()
            self.progress.console.print(f"[dim]{escape(where)}: {escape(tb)}[/dim]",
                                        highlight=False)


@dataclass
class _Row:
    """A deployed model of one row and its clean logits on the evaluation subset."""

    model: Any
    clean_logits: np.ndarray


def default_suite_path() -> Path:
    """The offline quick-start suite: the checkout's ``suites/quickstart.yaml``, or the copy an
    installed wheel carries inside the package."""
    checkout = Path(__file__).resolve().parent.parent / "suites" / "quickstart.yaml"
    packaged = Path(__file__).resolve().parent / "suites" / "quickstart.yaml"
    return checkout if checkout.is_file() else packaged
