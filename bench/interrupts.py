"""Tell a real interrupt (SIGINT / SIGTERM delivered to the process) from a plugin's own raise.

A plugin that calls ``sys.exit()`` or raises ``KeyboardInterrupt`` must fail its cell, not end the
run; a Ctrl-C or a ``kill`` must still end it. Inside :func:`catch_signals` a handler records
the signal before raising :class:`Interrupted` (a ``KeyboardInterrupt``), so code that catches
exceptions from plugins asks :func:`is_real_interrupt` before swallowing one::

    with catch_signals() as caught:
        try:
            plugin_code()
        except KeyboardInterrupt as exc:
            if is_real_interrupt(exc):
                raise
            ...  # the plugin raised it: fail its cell
    caught.signum  # the signal that arrived, or None
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Raised by the handlers of :func:`catch_signals`; ``signum`` says which signal arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def signame(self) -> str:
        return signal.Signals(self.signum).name


@dataclass
class Caught:
    """What :func:`catch_signals` saw: the first signal received, if any."""

    signum: int | None = None

    @property
    def signame(self) -> str | None:
        return None if self.signum is None else signal.Signals(self.signum).name


_active: list[Caught] = []


def is_real_interrupt(exc: BaseException) -> bool:
    """True when ``exc`` comes from a signal delivered to the process, not from plugin code.

    A plugin that catches our :class:`Interrupted` and raises something else in its place is still
    an interrupt: any signal recorded by an active :func:`catch_signals` counts. Outside of
    :func:`catch_signals` every ``KeyboardInterrupt`` is taken as real.
    """
    if isinstance(exc, Interrupted):
        return True
    if not isinstance(exc, KeyboardInterrupt):
        return any(c.signum is not None for c in _active)
    return not _active or any(c.signum is not None for c in _active)


def received_signal() -> int | None:
    """The signal an active :func:`catch_signals` has recorded, or None."""
    return next((c.signum for c in _active if c.signum is not None), None)


@contextmanager
def catch_signals(signals: tuple[int, ...] = DEFAULT_SIGNALS) -> Iterator[Caught]:
    """Install handlers that record the signal and raise :class:`Interrupted`; restore on exit.

    A signal whose disposition is ``SIG_IGN`` (a job started in the background ignores SIGINT)
    stays ignored. Outside the main thread nothing is installed (Python allows handlers only
    there); the block still runs.
    """
    caught = Caught()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        if caught.signum is None:
            caught.signum = signum
        if signum == signal.SIGTERM:  # a second one must not cut the clean-up short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Interrupted(signum)

    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            old = signal.getsignal(sig)
            if old == signal.SIG_IGN:
                continue
            previous[sig] = old
            signal.signal(sig, handler)
    _active.append(caught)
    try:
        yield caught
    finally:
        _active.remove(caught)
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
