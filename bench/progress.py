"""Progress display (rich) for long work: cells, training epochs, attack batches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


def say(console: Console, text: str, **style: Any) -> None:
    """Print one plain message: no markup or highlighting, and never wrapped at the console's
    width (logs are 80 columns wide: a path or cell id must stay whole to be copied)."""
    console.print(text, highlight=False, markup=False, soft_wrap=True, **style)


class RunProgress:
    """A thin wrapper so the runner never depends on whether output is shown."""

    def __init__(self, quiet: bool, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None

    @contextmanager
    def live(self) -> Iterator[RunProgress]:
        if self.quiet:
            yield self
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        with self._progress:
            yield self
        self._progress = None

    def add(self, description: str, total: int) -> TaskID | None:
        if self._progress is None:
            return None
        return self._progress.add_task(escape(description), total=total)

    def advance(self, task: TaskID | None, n: int = 1) -> None:
        if self._progress is not None and task is not None:
            self._progress.advance(task, n)

    def done(self, task: TaskID | None) -> None:
        if self._progress is not None and task is not None:
            self._progress.remove_task(task)

    def log(self, message: str) -> None:
        if not self.quiet:
            say(self.console, message)

    def keras_callback(self, description: str, epochs: int) -> Any:
        """A Keras callback advancing one bar per epoch."""
        import keras

        progress = self

        class _EpochBar(keras.callbacks.Callback):
            def on_train_begin(self, logs: Any = None) -> None:
                self.task = progress.add(description, epochs)

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                progress.advance(self.task)

            def on_train_end(self, logs: Any = None) -> None:
                progress.done(self.task)

        return _EpochBar()
