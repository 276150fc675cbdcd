"""``process``: a local pool of spawned worker processes (``--workers N``).

Built on pebble's ``ProcessPool``, made for exactly this: a task past its time limit has its
worker killed, a worker that dies (a segfault, ``os._exit``, the OOM killer) fails its task
only, and either way the pool starts a fresh worker and the grid goes on.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from pydantic import Field

from bench.interfaces import Params
from bench.run.executor import Executor, Outcome, WorkerSpec, execute, init_worker
from bench.run.plan import CellTask, Task
from bench.run.work import Workspace


class ProcessParams(Params):
    #: worker processes (default: one per CPU)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=512)
    #: tasks a worker runs before it is replaced by a fresh one (0: never)
    max_tasks: int = Field(default=0, ge=0)


def _worker_init(spec: WorkerSpec, threads: int) -> None:
    # Ctrl-C reaches the whole process group: the driver handles it and stops the pool
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    init_worker(spec, threads)


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the driver dies (even by SIGKILL), so that no orphan
    goes on computing a cell nobody will store."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the driver died before prctl took effect
        os._exit(1)


def describe_exit(exitcode: int | None) -> str:
    """Why a worker process ended, in words."""
    if exitcode is None:
        return "its worker died"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (the OOM killer, or kill -9)" if -exitcode == signal.SIGKILL else ""
        return f"its worker was killed by {name}{hint}"
    return f"its worker exited with code {exitcode}"


class Process(Executor):
    """Tasks in a pool of worker processes on this machine; crashes and hangs fail one cell."""

    name = "process"
    version = "1.0.0"
    description = "a local pool of worker processes (--workers N): isolates crashes, enforces " \
                  "cell time limits"
    Params = ProcessParams
    enforces_timeouts = True
    params: ProcessParams

    def start(self, workspace: Workspace, spec: WorkerSpec) -> None:
        import multiprocessing

        from pebble import ProcessPool

        workers = self.params.workers
        threads = max(1, (os.cpu_count() or 1) // workers)
        self._pool = ProcessPool(max_workers=workers, max_tasks=self.params.max_tasks,
                                 initializer=_worker_init, initargs=(spec, threads),
                                 context=multiprocessing.get_context("spawn"))
        self._futures: dict[Future[Any], Task] = {}

    def submit(self, task: Task) -> None:
        timeout = task.timeout if isinstance(task, CellTask) else None
        self._futures[self._pool.schedule(execute, args=(task,), timeout=timeout)] = task

    def results(self) -> Iterator[Outcome]:
        while self._futures:
            done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
            for future in done:
                yield self._outcome(self._futures.pop(future), future)

    @staticmethod
    def _outcome(task: Task, future: Future[Any]) -> Outcome:
        from pebble import ProcessExpired

        try:
            return Outcome(task, future.result())
        except TimeoutError:
            limit = task.timeout if isinstance(task, CellTask) else None
            return Outcome(task, None, "timeout",
                           f"exceeded the cell time limit of {limit:g} s; its worker was killed")
        except ProcessExpired as exc:
            return Outcome(task, None, "crashed", describe_exit(exc.exitcode))
        except Exception as exc:  # raised outside plugin code in the worker (its set-up)
            return Outcome(task, None, "crashed",
                           f"worker failed: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.stop()
            pool.join(timeout=30)
