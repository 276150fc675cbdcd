"""Every hook artbench calls. Each function is empty; its docstring is its reference.

Plugins implement hooks with ``from bench import hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from bench import PROJECT

if TYPE_CHECKING:
    from bench.interfaces import Attack, Dataset, Defense, Model, Reporter
    from bench.run.executor import Executor

hookspec = pluggy.HookspecMarker(PROJECT)

# --------------------------------------------------------------------------------------------
# Registration: each returns plugin classes (not instances); the host validates parameters
# and instantiates them.
# --------------------------------------------------------------------------------------------


@hookspec
def bench_register_datasets() -> list[type[Dataset]]:
    """Return the dataset classes this plugin provides."""


@hookspec
def bench_register_models() -> list[type[Model]]:
    """Return the model (architecture + training) classes this plugin provides."""


@hookspec
def bench_register_defenses() -> list[type[Defense]]:
    """Return the defense classes this plugin provides."""


@hookspec
def bench_register_attacks() -> list[type[Attack]]:
    """Return the attack classes this plugin provides."""


@hookspec
def bench_register_reporters() -> list[type[Reporter]]:
    """Return the reporter classes (output formats of ``bench report``) this plugin provides."""


@hookspec
def bench_register_executors() -> list[type[Executor]]:
    """Return the executor classes (where ``bench run --executor NAME`` runs tasks) this
    plugin provides: subclasses of :class:`bench.run.executor.Executor`."""


# --------------------------------------------------------------------------------------------
# Run lifecycle: observers (trackers, live reporters). Return values are ignored.
# --------------------------------------------------------------------------------------------


@hookspec
def bench_run_start(run_id: int, suite: dict[str, Any], cell_ids: list[str]) -> None:
    """Called once before the first cell runs, with the resolved suite and every cell id."""


@hookspec
def bench_cell_finished(run_id: int, cell_id: str, status: str, metrics: dict[str, Any]) -> None:
    """Called after each cell, whether it passed (``status == "ok"``) or failed."""


@hookspec
def bench_run_end(run_id: int, status: str, summary: dict[str, Any]) -> None:
    """Called once after the last cell (also after an interruption), with counts per status."""
