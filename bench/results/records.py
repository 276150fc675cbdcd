"""The typed records of a stored run: :class:`Run`, :class:`Row` (a model x defense network),
:class:`Cell` (one attack on one row, white-box or transferred), :class:`Flag` and
:class:`Sample`. Frozen: renderers read them, never change them.

Each record also reads like a mapping (``cell["metrics"]``, ``run.get("class_names")``), so
that Jinja templates and code written against the earlier dict rows keep working; new code
uses the attributes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.traits import AttackTraits, DefenseTraits

#: flag statuses that mean "nothing to report"
QUIET_FLAGS = frozenset({"ok", "pass", "passed", "quiet", "n/a", "skip", "skipped"})


class _Readable:
    """Read access by key (``record["name"]``, ``record.get("name")``) besides attributes."""

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and hasattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Any:
        """A record from a mapping; unknown keys are ignored, missing ones take defaults."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class Flag(_Readable):
    """A sanity flag: ``warn`` when it fired, ``ok`` when checked and quiet."""

    name: str
    status: str
    evidence: str = ""

    @property
    def raised(self) -> bool:
        return self.status.lower() not in QUIET_FLAGS


def _traits(plugins: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    entry = plugins.get(kind)
    d = entry.get("traits") if isinstance(entry, Mapping) else None
    return d if isinstance(d, dict) else None


@dataclass(frozen=True)
class Cell(_Readable):
    """One attack on one row: white-box, or (``source_row`` set) the examples crafted on another
    row evaluated on this one. ``metrics`` and ``timings`` are numbers by name (see
    :mod:`bench.results.metrics`); ``params`` and ``plugins`` per kind (model, defense, attack)
    with each plugin's name, version and declared traits."""

    id: int = 0  # the store's primary key (per-sample data is loaded by it)
    cell_id: str = ""
    row_id: str = ""
    model_id: str = ""
    defense_id: str = ""
    attack_id: str = ""
    attack_name: str = ""
    status: str = "ok"
    error: str | None = None
    samples: int | None = None
    source_row: str | None = None
    finished: str | None = None
    run_id: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    plugins: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    flags: tuple[Flag, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Cell:
        cell: Cell = super().from_dict(d)
        if not cell.flags and (cell.info or {}).get("flags"):
            cell = dataclasses.replace(cell, flags=tuple(
                Flag.from_dict(f) for f in cell.info["flags"] if isinstance(f, Mapping)))
        return cell

    @property
    def white_box(self) -> bool:
        return self.source_row is None

    @property
    def attack_traits(self) -> AttackTraits | None:
        """What the attack declared (None: a run stored before traits, no plugin to ask)."""
        d = _traits(self.plugins or {}, "attack")
        return AttackTraits.from_dict(d) if d is not None else None

    @property
    def defense_traits(self) -> DefenseTraits | None:
        d = _traits(self.plugins or {}, "defense")
        return DefenseTraits.from_dict(d) if d is not None else None

    @property
    def warnings(self) -> list[Flag]:
        return [f for f in self.flags if f.status == "warn"]


@dataclass(frozen=True)
class Row(_Readable):
    """A trained, defended network: its clean accuracy on the evaluation subset, training
    records (one per network, teachers included) and diagnostics of its gradients and logits."""

    row_id: str = ""
    model_id: str = ""
    defense_id: str = ""
    status: str = "ok"
    error: str | None = None
    id: int = 0
    run_id: int | None = None
    clean_accuracy: float | None = None
    balanced_accuracy: float | None = None
    eval_samples: int | None = None
    train_seconds: float | None = None
    training: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run(_Readable):
    """A run's provenance and state. ``status`` is the effective one (``interrupted`` when its
    driver is gone), ``recorded_status`` the stored one."""

    id: int = 0
    suite_name: str = ""
    suite_path: str | None = None
    suite: dict[str, Any] | None = None
    status: str = "finished"
    recorded_status: str | None = None
    started: str | None = None
    finished: str | None = None
    seed: int | None = None
    git_commit: str | None = None
    machine: dict[str, Any] | None = None
    versions: dict[str, Any] | None = None
    plugins: list[dict[str, Any]] | None = None
    cells_total: int | None = None
    class_names: list[str] | None = None
    planned: list[str] | None = None
    shard: str | None = None
    data_range: list[float] | None = None
    driver_pid: int | None = None
    driver_host: str | None = None
    driver_start: int | None = None


@dataclass(frozen=True)
class Sample(_Readable):
    """One evaluation sample of a cell."""

    idx: int
    label: int | None = None
    clean_pred: int | None = None
    adv_pred: int | None = None
    target: int | None = None
    success: int | None = None
    l0: float | None = None
    l2: float | None = None
    linf: float | None = None
    confidence: float | None = None
    clean_confidence: float | None = None
