"""artbench: a plugin-based harness for benchmarking adversarial robustness."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

PROJECT = "artbench"
ENTRY_POINT_GROUP = "artbench"

#: The one marker plugins import: ``from bench import hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["ENTRY_POINT_GROUP", "PROJECT", "__version__", "hookimpl"]
