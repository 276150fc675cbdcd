"""Every hook artbench calls. Each function is empty; its docstring is its reference.

Plugins implement hooks with ``from bench import hookimpl``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from bench import PROJECT

if TYPE_CHECKING:
    from bench.interfaces import Attack, Dataset, Defense, Model, Reporter, Tracker
    from bench.results.metrics import Metric
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


@hookspec
def bench_register_trackers() -> list[type[Tracker]]:
    """Return the tracker classes this plugin provides (:class:`bench.interfaces.Tracker`),
    which a suite turns on with ``trackers: [{name: NAME, params: {...}}]``."""


@hookspec
def bench_register_metrics() -> list[Metric]:
    """Return metric declarations (:class:`bench.results.metrics.Metric`: name, unit,
    direction, format, scope, description, and optionally ``compute`` to compute it for every
    cell). Reports format them, ``bench compare`` and ``--fail-on`` read them; a name that is
    already declared is an error naming both plugins."""


# --------------------------------------------------------------------------------------------
# Run lifecycle: observers (trackers, live reporters). Return values are ignored.
# --------------------------------------------------------------------------------------------


@hookspec
def bench_run_start(run_id: int, suite: dict[str, Any], cell_ids: list[str]) -> None:
    """Called once before the first cell runs, with the resolved suite and every cell id."""


@hookspec
def bench_cell_finished(run_id: int, cell_id: str, status: str, metrics: dict[str, Any],
                        error: str | None, timings: dict[str, float],
                        flags: list[dict[str, Any]], params: dict[str, dict[str, Any]],
                        traits: dict[str, dict[str, Any]], row_id: str, attack_id: str,
                        source_row: str | None) -> None:
    """Called after each cell is stored, whether it passed (``status == "ok"``) or failed
    (``failed``, ``crashed``, ``timeout``; ``error`` says why in one line, else None).
    ``metrics`` and ``timings`` (seconds per phase) as stored; ``flags`` is empty (flags are
    computed at the end of the run: ``bench_run_end``'s ``stats["flags"]``); ``params`` and
    ``traits``: kind -> the resolved parameters / declared traits of the cell's plugins;
    ``source_row``: for a transfer cell, the row whose examples were evaluated. An
    implementation may take any subset of these arguments (pluggy passes the ones it names),
    so ``bench_cell_finished(run_id, cell_id, status, metrics)`` keeps working."""


@hookspec
def bench_run_end(run_id: int, status: str, summary: dict[str, Any],
                  stats: dict[str, Any]) -> None:
    """Called once after the last cell (also after an interruption), with counts per status
    (``summary``) and the run's stored statistics (``stats``: ``threat_models`` with robust
    accuracy per row and threat model, ``robust_accuracy``, ``verdicts``, ``flags`` per cell
    id; empty if they could not be computed)."""
