"""The executor seam: how tasks reach the processes that compute them.

An executor is a plugin class (registered through ``bench_register_executors``) with typed
``Params``. The driver calls :meth:`Executor.start` once, :meth:`Executor.submit` for every task
whose inputs are ready (training tasks first, then the cells of each trained row), and iterates
:meth:`Executor.results`, which yields one :class:`Outcome` per task as tasks finish, until
nothing is pending (the driver may submit more while it iterates). Work happens in
:meth:`bench.run.work.Workspace.run`; an executor that runs tasks in other processes builds a
workspace there with :func:`init_worker` and runs tasks with :func:`execute` (both picklable by
reference). Results travel back as plain picklable objects; trained networks travel only through
the model cache (sha256-verified on every load).

A task that raises inside plugin code is not the executor's business: the workspace turns that
into a failed result. An executor reports what only it can see: a worker that died
(``crashed``, with the signal or exit code) or a task past its time limit (``timeout``).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from bench.interfaces import Plugin
from bench.run.plan import Task
from bench.run.work import Result, Workspace


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to build its own :class:`Workspace` for this run."""

    #: ``-p`` arguments of the driver (modules or ``.py`` paths, resolved against ``cwd``)
    plugin_args: tuple[str, ...]
    #: whether third-party entry points load (``ARTBENCH_DISABLE_PLUGIN_AUTOLOAD`` unset)
    autoload: bool
    #: the resolved suite (JSON types) and the path it came from
    suite: dict[str, Any]
    source: str
    cache_dir: str
    cwd: str
    #: ``bench run --verbose``: TensorFlow's own log lines pass
    verbose: bool = False


@dataclass
class Outcome:
    """What became of one task: its result, or why there is none."""

    task: Task
    result: Result | None
    #: ``ok`` when ``result`` is set; otherwise ``crashed`` or ``timeout``
    status: str = "ok"
    message: str | None = None


class Executor(Plugin, ABC):
    """Runs tasks somewhere and reports their outcomes as they finish."""

    #: whether a task's time limit (``evaluation.cell_timeout``) is enforced
    enforces_timeouts: ClassVar[bool] = False

    @abstractmethod
    def start(self, workspace: Workspace, spec: WorkerSpec) -> None:
        """Prepare to run tasks. ``workspace`` is the driver's own (an in-process executor
        uses it); ``spec`` lets other processes build theirs."""

    @abstractmethod
    def submit(self, task: Task) -> None:
        """Queue one task. It may start at once or later; it must not block for long."""

    @abstractmethod
    def results(self) -> Iterator[Outcome]:
        """Yield an outcome per submitted task as each finishes; return when none is pending."""

    def close(self) -> None:
        """Release workers. Called once, also after an interruption or an error."""


# ---- the worker side --------------------------------------------------------------------------

_workspace: Workspace | None = None
_init_error: BaseException | None = None


def init_worker(spec: WorkerSpec, threads: int | None = None) -> None:
    """Build this process's workspace from ``spec`` (a pool's initializer). TensorFlow's thread
    pools are sized to ``threads`` (this worker's share of the CPUs) before any TF call. An
    error here is kept and raised by the first task, so that it reaches the driver."""
    global _workspace, _init_error
    try:
        _workspace = _build(spec, threads)
    except BaseException as exc:  # noqa: BLE001 - re-raised by execute()
        _init_error = exc


def _build(spec: WorkerSpec, threads: int | None) -> Workspace:
    from bench.quiet import quiet_tensorflow

    os.chdir(spec.cwd)
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
            os.environ[var] = str(threads)
    quiet_tensorflow(spec.verbose, import_now=True)
    if threads is not None:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from bench.cache import ModelCache
    from bench.pluginmanager import load_plugins
    from bench.progress import RunProgress
    from bench.run.plan import plan_suite
    from bench.suite import Suite

    plugins = load_plugins(list(spec.plugin_args), spec.autoload)
    plan = plan_suite(Suite.model_validate(spec.suite), spec.source, plugins)
    return Workspace(plan, plugins, ModelCache(spec.cache_dir), RunProgress(True))


def execute(task: Task) -> Result:
    """Run one task in this worker's workspace (see :func:`init_worker`)."""
    if _init_error is not None:
        raise _init_error
    if _workspace is None:
        raise RuntimeError("execute() called in a process without init_worker()")
    return _workspace.run(task)
