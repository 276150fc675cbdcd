"""Shared settings of the property-based (hypothesis) tests: a few hundred examples per property
in the default run, tens of thousands under ``pytest -m slow``."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck

from bench.errors import BenchError

COMMON: dict[str, Any] = {
    "deadline": 5000, "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much]}


def clean(exc: BaseException) -> None:
    """A user error: a BenchError with a non-empty one-line message of sane length."""
    assert isinstance(exc, BenchError), repr(exc)
    msg = str(exc)
    assert msg and len(msg.splitlines()) == 1 and "\n" not in msg, repr(msg)
    assert len(msg) < 4000, msg[:200]
