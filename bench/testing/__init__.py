"""bench.testing: a testing kit for artbench plugin authors (work in progress)."""

from __future__ import annotations

__all__: list[str] = []
