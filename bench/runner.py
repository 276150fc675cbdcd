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
from bench.errors import AttackCheckError, BenchError, ConfigError, PluginError
from bench.grid import Cell, expand_grid, transfer_id, transfer_plan
from bench.interfaces import Attack, Dataset, DataSplit
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
    return Plan(suite, raw, source, ds_cls(ds_params), cells)


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    recalls = [float((pred[y == c] == c).mean()) for c in np.unique(y)]
    return float(np.mean(recalls)) if recalls else float("nan")


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BenchError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Runner:
    def __init__(self, plan: Plan, plugins: Plugins, store: Store, cache: ModelCache,
                 progress: RunProgress) -> None:
        self.plan = plan
        self.plugins = plugins
        self.store = store
        self.cache = cache
        self.progress = progress
        self.suite = plan.suite
        self.transfers = transfer_plan(plan.cells, plan.suite)
        self.counts: Counter[str] = Counter()

    # ---- data ---------------------------------------------------------------------------

    def _load_data(self) -> tuple[DataSplit, DataSplit]:
        ds = self.plan.dataset
        train = ds.load(self.suite.dataset.train)
        test = ds.load(self.suite.dataset.test)
        if train.num_classes != test.num_classes or train.input_shape != test.input_shape:
            raise ConfigError(f"{self.plan.source}: dataset.train and dataset.test disagree on "
                              "input shape or number of classes")
        for cell in self.plan.cells:
            spec = getattr(cell.attack.params, "target", None)
            check_target(spec, test.num_classes, f"{self.plan.source}: attack {cell.attack.id}")
        # a fixed, seeded evaluation subset; cells with fewer samples take a prefix of it
        rng = np.random.default_rng(self.suite.evaluation.seed)
        order = rng.permutation(len(test))[: self.suite.evaluation.samples]
        evaluation = DataSplit(test.x[order], test.y[order], test.num_classes, test.class_names,
                               f"{test.name} (seeded subset of {len(order)})", test.clip_values)
        return train, evaluation

    # ---- the run ------------------------------------------------------------------------

    def cell_ids(self) -> list[str]:
        """Every cell id of the run: white-box cells, each followed by its transfer cells."""
        out = []
        for cell in self.plan.cells:
            out.append(cell.id)
            out += [transfer_id(t, cell.attack.id, cell.row)
                    for t in self.transfers.get(cell.id, [])]
        return out

    def run(self) -> RunResult:
        cells = self.plan.cells
        train, evaluation = self._load_data()
        plugin_info = [
            {"name": p.name, "distribution": p.distribution, "version": p.version,
             "provides": p.provides} for p in self.plugins.loaded
        ]
        ids = self.cell_ids()
        run_id = self.store.create_run(
            self.suite.name, self.plan.source, self.suite.model_dump(mode="json"),
            self.suite.seed, provenance.git_commit(), provenance.machine(),
            provenance.package_versions(), plugin_info, len(ids),
            list(evaluation.class_names),
        )
        self.plugins.hook.bench_run_start(
            run_id=run_id, suite=self.suite.model_dump(mode="json"), cell_ids=ids
        )
        self.progress.log(escape(f"run {run_id}: {len(ids)} cells, train {train.name} "
                                 f"({len(train)}), evaluate {evaluation.name}"))
        status = "interrupted"
        try:
            with self.progress.live():
                overall = self.progress.add("cells", len(ids))
                rows: dict[str, _Row | None] = {}
                for row_id, group in groupby(cells, key=lambda c: c.row):
                    rows[row_id] = self._prepare_row(run_id, list(group), train, evaluation)
                for cell in cells:
                    self._run_cell(run_id, cell, rows, evaluation)
                    self.progress.advance(overall, 1 + len(self.transfers.get(cell.id, [])))
            status = "finished" if not self._failed() else "finished-with-failures"
        finally:
            self.store.finish_run(run_id, status)
            # flag what was stored, an interrupted run included
            from bench.flags import update_flags

            update_flags(self.store, run_id)
            self.plugins.hook.bench_run_end(run_id=run_id, status=status,
                                            summary=dict(self.counts))
        return RunResult(run_id, self.counts)

    def _failed(self) -> int:
        return sum(n for s, n in self.counts.items() if s != "ok")

    def _prepare_row(self, run_id: int, cells: list[Cell], train: DataSplit,
                     evaluation: DataSplit) -> _Row | None:
        """Train (or load) and defend one model; None when that fails (its cells are failed)."""
        first = cells[0]
        row: dict[str, Any] = {"row_id": first.row, "model_id": first.model.id,
                               "defense_id": first.defense.id, "eval_samples": len(evaluation)}
        trainer = HostTrainer(first.model.instantiate(),
                              self.plugins.plugin_version("model", first.model.name),
                              train, self.cache, self.suite.seed, self.progress)
        start = perf_counter()
        try:
            model = first.defense.instantiate().apply(trainer)
            clean_logits = predict_logits(model, evaluation.x)
            diagnostics = row_diagnostics(model, evaluation.x, evaluation.y, clean_logits)
        except Exception as exc:
            message = f"training/defense failed: {_error_text(exc)}"
            self._report_failure(first.row, exc)
            self.store.add_row(run_id, {**row, "status": "failed", "error": message,
                                        "training": trainer.records})
            for cell in cells:
                self._store_cell(run_id, cell, "failed", message, {}, {}, None, {})
            return None
        pred = clean_logits.argmax(axis=1)
        row.update(status="ok", clean_accuracy=float((pred == evaluation.y).mean()),
                   balanced_accuracy=_balanced_accuracy(evaluation.y, pred),
                   train_seconds=perf_counter() - start, training=trainer.records,
                   diagnostics=diagnostics)
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
        attack: Attack = cell.attack.instantiate()
        try:
            targets = compute_targets(getattr(cell.attack.params, "target", None), y,
                                      clean_logits, evaluation.num_classes,
                                      self.suite.evaluation.seed)
            x_adv, info = self._generate(attack, cell, state.model, x, y, targets, evaluation,
                                         timings)
            start = perf_counter()
            adv_logits = predict_logits(state.model, x_adv)
            metrics, per_sample = cell_metrics(x, x_adv, y, clean_logits, adv_logits, targets)
            timings["evaluate"] = perf_counter() - start
        except Exception as exc:
            if not isinstance(exc, AttackCheckError | BenchError):
                self._report_failure(cell.id, exc)
            self._store_cell(run_id, cell, "failed", _error_text(exc), {}, timings, None, {})
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
            t_metrics, t_per_sample = cell_metrics(
                x, x_adv, y, target.clean_logits[:n], predict_logits(target.model, x_adv),
                targets)
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
            xb = x[i : i + bs]
            out = attack.generate(model, xb, y[i : i + bs],
                                  None if targets is None else targets[i : i + bs],
                                  evaluation.clip_values, evaluation.num_classes)
            check_adversarial(xb, out.x_adv, evaluation.clip_values, attack.bound())
            parts.append(out.x_adv)
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
        if status != "ok":
            self.progress.log(f"[red]FAILED[/red] {escape(record['cell_id'])}: "
                              f"{escape(error or '')}")
        self.plugins.hook.bench_cell_finished(run_id=run_id, cell_id=record["cell_id"],
                                              status=status, metrics=metrics)

    def _report_failure(self, where: str, exc: BaseException) -> None:
        """A plugin raised something that is not a BenchError: keep the traceback for debugging."""
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
