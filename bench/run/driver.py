"""A run from start to end: plan -> executor -> sink. New or resumed (``--resume``), whole or one
shard of the grid (``--shard``), in this process or spread over workers (``--executor``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rich.progress import TaskID

from bench import provenance
from bench.cache import ModelCache
from bench.grid import Cell
from bench.interrupts import catch_signals
from bench.pluginmanager import Plugins
from bench.progress import RunProgress, say
from bench.results import metrics
from bench.results.store import Store
from bench.run.executor import Executor, Outcome, WorkerSpec
from bench.run.plan import CellTask, Plan, RowTask
from bench.run.sink import Sink
from bench.run.work import CellResult, RowResult, Workspace
from bench.tracking import RunEnded, RunStarted


@dataclass
class RunResult:
    run_id: int
    counts: Counter[str]

    @property
    def failed(self) -> int:
        return sum(n for status, n in self.counts.items() if status != "ok")


class Driver:
    def __init__(self, plan: Plan, plugins: Plugins, store: Store, cache: ModelCache,
                 progress: RunProgress, executor: Executor, spec: WorkerSpec,
                 resume: int | None = None, shard: tuple[int, int] | None = None) -> None:
        self.plan = plan
        self.plugins = plugins
        self.store = store
        self.cache = cache
        self.progress = progress
        self.executor = executor
        self.spec = spec
        #: ``bench run --resume``: the run to finish in place (see :mod:`bench.resume`)
        self.resume = resume
        #: ``bench run --shard i/N``: run only that part of the grid
        self.shard = shard
        self.cells = plan.cells if shard is None else plan.shard(*shard)
        self.timeout = plan.suite.evaluation.cell_timeout

    def cell_ids(self) -> list[str]:
        """Every cell id this run stores: white-box cells, each followed by its transfers."""
        return self.plan.cell_ids(self.cells)

    def run(self) -> RunResult:
        """Run every cell. SIGINT / SIGTERM end the run (:class:`Interrupted`, a
        KeyboardInterrupt); a plugin's own ``sys.exit()`` or KeyboardInterrupt fails its cell."""
        with catch_signals():
            return self._run()

    def _run(self) -> RunResult:
        workspace = Workspace(self.plan, self.plugins, self.cache, self.progress)
        train, evaluation = workspace.data()
        ids = self.cell_ids()
        done: set[str] = set()
        kept_rows: set[str] = set()
        if self.resume is None:
            plugin_info = [{"name": p.name, "distribution": p.distribution,
                            "version": p.version, "provides": p.provides,
                            "metrics": [metrics.declared(m).to_dict()
                                        for m in p.provides.get("metric", [])]}
                           for p in self.plugins.loaded]
            suite = self.plan.suite
            run_id = self.store.create_run(
                suite.name, self.plan.source, suite.model_dump(mode="json"), suite.seed,
                provenance.git_commit(), provenance.machine(), provenance.package_versions(),
                plugin_info, len(ids), list(evaluation.class_names), cell_ids=ids,
                data_range=evaluation.clip_values,
                **({} if self.shard is None else {"shard": "{}/{}".format(*self.shard)}))
        else:
            run_id = self.resume
        sink = Sink(self.store, run_id, self.plan, self.plugins, self.progress)
        if self.resume is not None:
            done, kept_rows = self._reopen(sink)
        sink.start_trackers()
        started = RunStarted(run_id, self.plan.suite.model_dump(mode="json"), ids)
        sink.notify("bench_run_start", **vars(started))
        sink.trackers.call("run_start", started)
        self.progress.log(f"run {run_id}: {len(ids)} cells, train {train.name} "
                          f"({len(train)}), evaluate {evaluation.name}"
                          + (f", executor {self.executor.name}"
                             if self.executor.name != "serial" else ""))
        if self.timeout is not None and not self.executor.enforces_timeouts:
            say(self.progress.console,
                f"warning: evaluation.cell_timeout ({self.timeout:g} s) is not enforced by "
                f"executor '{self.executor.name}'; use --executor process to enforce it")
        status = "interrupted"
        try:
            with self.progress.live():
                pending = [c for c in self.cells if c.id not in done]
                bar = self.progress.add("cells", len(ids))
                self.progress.advance(bar, len(ids) - len(self.plan.cell_ids(pending)))
                self.executor.start(workspace, self.spec)
                self._schedule(sink, pending, kept_rows, bar)
            status = "finished" if not sink.failed else "finished-with-failures"
        finally:
            self.executor.close()
            self.store.finish_run(run_id, status)
            # flags, robust accuracy, verdicts of what was stored, an interrupted run included
            from bench.results.stats import update_stats

            stats = update_stats(self.store, run_id, self.plugins)
            sink.notify("bench_run_end", run_id=run_id, status=status,
                        summary=dict(sink.counts), stats=stats)
            sink.trackers.call("run_end", RunEnded(run_id, status, dict(sink.counts), stats))
        return RunResult(run_id, sink.counts)

    def _schedule(self, sink: Sink, pending: list[Cell], kept_rows: set[str],
                  bar: TaskID | None) -> None:
        """Training tasks first; each cell once its row and its transfer rows are trained."""
        rows = self.plan.rows_needed(pending)
        row_status: dict[str, str | None] = {}  # row id -> None (ok) or why it failed
        waiting = list(pending)
        for row_id in rows:
            self.executor.submit(RowTask(row_id))

        def release() -> None:
            for cell in list(waiting):
                targets = self.plan.transfers.get(cell.id, [])
                if any(r not in row_status for r in (cell.row, *targets)):
                    continue
                waiting.remove(cell)
                failure = row_status[cell.row]
                if failure is not None:  # its row failed: nothing to run
                    sink.lost(cell, targets, "failed", failure, "source row failed")
                    self.progress.advance(bar, len(self.plan.ids_of(cell)))
                    continue
                ok_targets = tuple(t for t in targets if row_status[t] is None)
                self.executor.submit(CellTask(cell.id, cell.row, ok_targets, self.timeout))

        release()
        for outcome in self.executor.results():
            task = outcome.task
            if isinstance(task, RowTask):
                row_status[task.row_id] = self._row_done(sink, outcome, task.row_id in kept_rows)
                release()
                continue
            assert isinstance(task, CellTask)
            cell = self.plan.cell(task.cell_id)
            targets = self.plan.transfers.get(cell.id, [])
            if isinstance(outcome.result, CellResult):
                sink.cell(outcome.result, targets)
            else:
                sink.lost(cell, targets, outcome.status, outcome.message or outcome.status)
            self.progress.advance(bar, len(self.plan.ids_of(cell)))

    def _row_done(self, sink: Sink, outcome: Outcome, kept: bool) -> str | None:
        """Store a row's outcome; None when the row is usable, else the reason it is not."""
        result = outcome.result
        if not isinstance(result, RowResult):
            row_id = outcome.task.row_id  # type: ignore[union-attr]
            first = self.plan.row_cell(row_id)
            result = RowResult(row_id, {
                "row_id": row_id, "model_id": first.model.id, "defense_id": first.defense.id,
                "status": "failed", "training": [],
                "error": f"training/defense {outcome.status}: {outcome.message}"})
        sink.row(result, keep_stored=kept)
        return None if result.ok else str(result.record["error"])

    def _reopen(self, sink: Sink) -> tuple[set[str], set[str]]:
        """Reopen the resumed run: the white-box cells that are done (they and their transfer
        cells stored ``ok``), and the rows whose stored record stays. Stored remains of
        everything else are deleted, to be computed again."""
        run_id = sink.run_id
        stored_rows, stored_cells = self.store.stored_statuses(run_id)
        done = {c.id for c in self.cells
                if all(stored_cells.get(i) == "ok" for i in self.plan.ids_of(c))}
        stale_cells = [i for c in self.cells if c.id not in done for i in self.plan.ids_of(c)
                       if i in stored_cells]
        stale_rows = [r for r, status in stored_rows.items() if status != "ok"]
        self.store.forget(run_id, stale_rows, stale_cells)
        self.store.reopen_run(run_id)
        n_done = len(self.plan.cell_ids([c for c in self.cells if c.id in done]))
        sink.counts["ok"] += n_done
        self.progress.log(f"resuming run {run_id}: {n_done} of "
                          f"{len(self.cell_ids())} cells stored, the rest runs now")
        return done, {r for r, status in stored_rows.items() if status == "ok"}
