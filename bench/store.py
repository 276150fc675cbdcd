"""Earlier home of the result store; kept so that existing imports work. Use
:mod:`bench.results.store`."""

from __future__ import annotations

from bench.results.store import FINISHED, Store, default_store_path

__all__ = ["FINISHED", "Store", "default_store_path"]
