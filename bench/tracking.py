"""What trackers receive: one frozen event per run start, stored cell and run end.

The same data reaches the lifecycle hooks (:mod:`bench.hookspecs`) as keyword arguments and
:class:`bench.interfaces.Tracker` instances (the suite's ``trackers:``) as these events.
:class:`Trackers` calls the suite's trackers in the driver process; one that raises costs one
warning per tracker and method, never the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.interfaces import Tracker


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    #: the resolved suite, as stored (JSON values)
    suite: dict[str, Any]
    #: every cell id the run stores, in plan order
    cell_ids: list[str]


@dataclass(frozen=True)
class CellFinished:
    """One stored cell (white-box or transfer), whatever its status."""

    run_id: int
    cell_id: str
    row_id: str
    attack_id: str
    #: ``ok``, ``failed``, ``crashed``, ``timeout``
    status: str
    #: why the cell is not ``ok`` (one line); None when it is
    error: str | None
    metrics: dict[str, Any]
    #: seconds per phase (``generate``, ``evaluate``, ``per_sample``, ...)
    timings: dict[str, float]
    #: sanity flags known when the cell is stored: empty, as flags are computed at the end
    #: of the run (``RunEnded.stats["flags"]`` has them per cell)
    flags: list[dict[str, Any]] = field(default_factory=list)
    #: kind (model, defense, attack) -> resolved parameters of the cell's plugins
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: kind (defense, attack) -> declared traits (``AttackTraits.to_dict()``...)
    traits: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: a transfer cell: the row whose examples were evaluated here; None for white-box
    source_row: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunEnded:
    run_id: int
    #: ``finished``, ``finished-with-failures``, ``interrupted``
    status: str
    #: cells per status
    counts: dict[str, int]
    #: the run's statistics as stored: ``threat_models`` (robust accuracy per row and threat
    #: model), ``robust_accuracy`` (worst case), ``verdicts``, ``flags`` (cell id -> flags);
    #: empty when they could not be computed
    stats: dict[str, Any] = field(default_factory=dict)


class Trackers:
    """The suite's tracker instances, each method call guarded."""

    def __init__(self, trackers: list[tuple[str, Tracker]],
                 warn: Callable[[str], None]) -> None:
        self.trackers = trackers
        self.warn = warn
        self._failed: set[tuple[str, str]] = set()

    def call(self, method: str, event: Any) -> None:
        from bench.run.faults import PLUGIN_FAULTS, fault_text

        for tid, tracker in self.trackers:
            try:
                getattr(tracker, method)(event)
            except PLUGIN_FAULTS as exc:
                if (tid, method) not in self._failed:
                    self._failed.add((tid, method))
                    text = fault_text(exc).removeprefix("plugin ")
                    self.warn(f"warning: tracker '{tid}' failed in {method}: {text}")
