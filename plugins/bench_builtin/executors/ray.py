"""``ray``: tasks on a Ray instance: a local one (the default) or a cluster (``--address``).

Each task is a Ray task (a remote function) that builds its worker's workspace once per worker
process (:func:`bench.run.executor.init_worker`, TensorFlow's threads sized to the task's CPU
share) and runs :func:`bench.run.executor.execute`. The :class:`WorkerSpec` is put in the object
store once per run. A task whose worker died (a segfault, ``os._exit``, the OOM killer, a lost
node) is submitted again, up to ``max_retries`` times, then the cell is ``crashed``; a plugin's
Python exception is never retried (the workspace already turns it into a failed result, and
Ray's ``retry_exceptions`` is off). A cell past its time limit has its worker killed
(``ray.cancel(force=True)``) and is stored ``timeout``.

The time limit counts from the moment the task body starts, after its worker was set up (as
under ``process``, whose initializer is not counted either), not from submission: the task is a
streaming generator that yields a "started" marker before it runs the cell. That is why this
executor retries dead workers itself (a new task per attempt) rather than through Ray's own
``max_retries``: Ray replays a retried generator's items, so a retry would not signal its own
start, and the time limit of a retried cell would count from its first attempt.

Trained networks travel through the model cache directory named in the :class:`WorkerSpec`
(sha256-verified on every load), exactly as under ``process``. On a local instance that is this
machine's cache; on a cluster of several machines every node needs the same cache directory on
a shared file system (and the same checkout path for ``-p`` plugins, which resolve against the
driver's working directory), or a node without it trains its rows' networks again.

``ray`` is imported only in :meth:`Ray.start`: ``bench`` works without it, and ``--executor ray``
without it is a one-line error.
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from bench.errors import PluginError
from bench.interfaces import Params
from bench.interrupts import Interrupted, received_signal
from bench.run.executor import Executor, Outcome, WorkerSpec, execute, init_worker
from bench.run.plan import CellTask, Task
from bench.run.work import Result, Workspace

MISSING = '--executor ray: Ray is not installed; pip install "artbench[ray]"'
#: the first item every task yields: its body has started (the time limit counts from here)
STARTED = "started"
#: longest single wait, so that Ctrl-C and time limits are seen promptly
_POLL = 0.5


class RayParams(Params):
    #: None: start a local Ray instance (dashboard off); "auto" or "host:port": join that cluster
    address: str | None = None
    #: CPUs and GPUs each task reserves (TensorFlow's thread pools get the CPU share, >= 1)
    num_cpus: float = Field(default=1, ge=0)
    num_gpus: float = Field(default=0, ge=0)
    #: times a task whose worker died (or whose node was lost) is submitted again (-1: without
    #: end); a Python exception never is
    max_retries: int = Field(default=2, ge=-1)
    #: tasks a worker process runs before Ray replaces it (0: never; reused workers keep memory)
    max_calls: int = Field(default=0, ge=0)


def _ray_installed() -> bool:
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


# ---- the worker side (runs in Ray's worker processes) ------------------------------------

#: the spec this worker process's workspace was built from
_built_for: WorkerSpec | None = None


def run_task(spec: WorkerSpec, threads: int, task: Task) -> Iterator[Any]:
    """A Ray task: set this worker up for ``spec`` (once), signal the start, run ``task``."""
    global _built_for
    if _built_for != spec:
        init_worker(spec, threads)  # an error here is raised by execute(), below
        _built_for = spec
    yield STARTED
    yield execute(task)


# ---- the driver side -----------------------------------------------------------------------

@dataclass
class _Pending:
    task: Task
    #: time.monotonic() when the task body started (its "started" marker arrived)
    started: float | None = None
    #: 0 for the first run, then the number of retries after dead workers
    attempt: int = 0

    @property
    def deadline(self) -> float | None:
        timeout = self.task.timeout if isinstance(self.task, CellTask) else None
        if timeout is None or self.started is None:
            return None
        return self.started + timeout


class Ray(Executor):
    """Tasks on a local Ray instance or a Ray cluster; dead workers are retried, hung cells
    killed at their time limit."""

    name = "ray"
    version = "1.0.0"
    description = "tasks on Ray: a local instance, or a cluster (--address); retries dead " \
                  "workers, enforces cell time limits"
    Params = RayParams
    enforces_timeouts = True
    params: RayParams

    def __init__(self, params: RayParams | None = None) -> None:
        super().__init__(params)
        if not _ray_installed():
            raise PluginError(MISSING)
        _check_address(self.params.address)
        self._ray: Any = None
        self._started_ray = False
        self._pending: dict[Any, _Pending] = {}

    def start(self, workspace: Workspace, spec: WorkerSpec) -> None:
        try:
            import ray
        except ImportError:
            raise PluginError(MISSING) from None
        self._ray = ray
        p = self.params
        if not ray.is_initialized():  # else: a Ray driver embedding bench; leave it be
            local = p.address in (None, "local")
            # ray.init() puts its own SIGTERM handler (sys.exit) in place of the driver's,
            # which stores the run as interrupted and exits 143: put the driver's back
            main = threading.current_thread() is threading.main_thread()
            sigterm = signal.getsignal(signal.SIGTERM) if main else None
            try:
                ray.init(address="local" if p.address is None else p.address,
                         include_dashboard=False if local else None,
                         logging_level=logging.INFO if spec.verbose else logging.WARNING)
            except Exception as exc:  # noqa: BLE001 - Ray's own errors: one line for the user
                where = "start a local Ray instance" if local else \
                    f"join the Ray cluster at {p.address}"
                raise PluginError(f"--executor ray: cannot {where}: "
                                  f"{type(exc).__name__}: {_first_line(exc)}") from None
            finally:
                if sigterm is not None:
                    signal.signal(signal.SIGTERM, sigterm)
            self._started_ray = True
        self._threads = max(1, round(p.num_cpus))
        self._spec = ray.put(spec)
        self._remote = ray.remote(
            num_returns="streaming", num_cpus=p.num_cpus, num_gpus=p.num_gpus,
            max_retries=0, retry_exceptions=False, max_calls=p.max_calls,  # see the docstring
        )(run_task)

    def submit(self, task: Task, attempt: int = 0) -> None:
        generator = self._remote.remote(self._spec, self._threads, task)
        self._pending[generator] = _Pending(task, attempt=attempt)

    def results(self) -> Iterator[Outcome]:
        ray = self._ray
        while self._pending:
            now = time.monotonic()
            for generator, pending in list(self._pending.items()):
                deadline = pending.deadline
                if deadline is not None and deadline <= now:
                    yield self._kill(generator)
            if not self._pending:
                return
            deadlines = [d for d in (p.deadline for p in self._pending.values()) if d is not None]
            wait = min([_POLL, *(max(0.0, d - now) for d in deadlines)])
            with _signals():
                ready, rest = ray.wait(list(self._pending), num_returns=1, timeout=wait)
                if ready and rest:  # and every other task that is ready now
                    ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
            for generator in ready:
                with _signals():
                    outcome = self._next(generator)
                if outcome is not None:
                    yield outcome

    def _next(self, generator: Any) -> Outcome | None:
        """The next item of a task's generator: the start marker (None) or its outcome."""
        ray = self._ray
        pending = self._pending[generator]
        task = pending.task
        try:
            value = ray.get(next(generator))
        except StopIteration:
            del self._pending[generator]
            return Outcome(task, None, "crashed", "worker failed: the task ended without a result")
        except ray.exceptions.RayTaskError as exc:  # raised by our own code in the worker
            del self._pending[generator]
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            return Outcome(task, None, "crashed",
                           f"worker failed: {type(cause).__name__}: {_first_line(cause)}")
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.LocalRayletDiedError, ray.exceptions.OutOfMemoryError,
                ray.exceptions.ObjectLostError) as exc:  # its worker, node or result is gone
            del self._pending[generator]
            retries = self.params.max_retries
            if retries < 0 or pending.attempt < retries:
                self.submit(task, pending.attempt + 1)
                return None
            again = ("" if not pending.attempt else " (retried once)" if pending.attempt == 1
                     else f" (retried {pending.attempt} times)")
            return Outcome(task, None, "crashed", f"its worker died{again} (Ray: "
                                                  f"{type(exc).__name__}: {_first_line(exc)})")
        except ray.exceptions.RayError as exc:
            del self._pending[generator]
            return Outcome(task, None, "crashed",
                           f"worker failed (Ray: {type(exc).__name__}: {_first_line(exc)})")
        if isinstance(value, str) and value == STARTED:
            pending.started = time.monotonic()
            return None
        del self._pending[generator]
        result: Result = value
        return Outcome(task, result)

    def _kill(self, generator: Any) -> Outcome:
        task = self._pending.pop(generator).task
        self._ray.cancel(generator, force=True)
        limit = task.timeout if isinstance(task, CellTask) else None
        return Outcome(task, None, "timeout",
                       f"exceeded the cell time limit of {limit:g} s; its worker was killed")

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for generator in list(self._pending):
            try:
                ray.cancel(generator, force=True)
            except Exception:  # noqa: BLE001, S110 - already finished or the instance is gone
                pass
        self._pending.clear()
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False


@contextmanager
def _signals() -> Iterator[None]:
    """Ray's blocking calls turn the driver's :class:`Interrupted` (raised by its signal
    handler) into a bare KeyboardInterrupt: give it back its signal (SIGTERM exits 143)."""
    try:
        yield
    except KeyboardInterrupt as exc:
        signum = received_signal()
        if signum is None or isinstance(exc, Interrupted):
            raise
        raise Interrupted(signum) from None


def _check_address(address: str | None) -> None:
    """Fail at once, in one line, when nothing listens at a ``host:port`` address (Ray itself
    retries such an address for minutes). ``auto``, ``local`` and ``ray://`` are Ray's to check."""
    if address is None or address in ("auto", "local") or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise PluginError(f"--executor ray: address {address!r}: expected host:port (the head "
                          "node's GCS address, as `ray start --head` prints it), auto or "
                          "ray://host:port")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PluginError(f"--executor ray: cannot join the Ray cluster at {address}: "
                          f"{reason}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else "(no message)"
