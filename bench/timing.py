"""The one indirection through which artbench reads clocks, so tests can control time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

perf_counter = time.perf_counter


def now_iso() -> str:
    """Current UTC time as ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def timed(into: dict[str, float], phase: str) -> Iterator[None]:
    """Add the wall time of the ``with`` body, in seconds, to ``into[phase]``."""
    start = perf_counter()
    try:
        yield
    finally:
        into[phase] = into.get(phase, 0.0) + (perf_counter() - start)
