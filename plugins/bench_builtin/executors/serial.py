"""``serial``: every task in the driver's own process, one at a time."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from bench.interfaces import Params
from bench.run.executor import Executor, Outcome, WorkerSpec
from bench.run.plan import CellTask, Task
from bench.run.work import Workspace


class Serial(Executor):
    """In the driver's process, one task at a time: a row's cells run as soon as it is trained,
    before the next row trains, so that one row's network is in memory at a time."""

    name = "serial"
    version = "1.0.0"
    description = "in this process, one task at a time; the default"
    Params = Params

    def start(self, workspace: Workspace, spec: WorkerSpec) -> None:
        self._workspace = workspace
        self._rows: deque[Task] = deque()
        self._cells: deque[Task] = deque()

    def submit(self, task: Task) -> None:
        (self._cells if isinstance(task, CellTask) else self._rows).append(task)

    def results(self) -> Iterator[Outcome]:
        while self._cells or self._rows:
            task = (self._cells or self._rows).popleft()
            yield Outcome(task, self._workspace.run(task))
