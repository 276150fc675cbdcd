"""``bench compare RUN_A RUN_B``: differences per cell and metric, with regression gates.

Computation only (``compare_runs``, ``parse_threshold``, ``check``); rendering lives in
``bench.compare_render``.

Threshold semantics (``--fail-on METRIC:THRESHOLD``, repeatable):

- ``+N`` fails when the metric rises (B - A) by more than N, ``-N`` when it falls by more than
  N, an unsigned ``N`` when it moves by more than N either way. "More than" is strict.
- With ``%`` on a rate in [0, 1] (success_rate, adv_accuracy, clean_accuracy,
  balanced_accuracy, adv_confidence_mean) N is in percentage points: ``success_rate:+5%``
  fails on 40.0 % -> 45.1 %. On any other metric (times, norms) ``%`` is relative to A:
  ``generate:+50%`` fails on 2.0 s -> 3.1 s; a change from 0 counts as infinite.
- Without ``%``, N is absolute in the metric's own unit: ``success_rate:+0.05`` is the same as
  ``+5%``; ``generate:+30`` fails when generation takes 30 s longer.
- A threshold is checked on every cell, and every row, present and ``ok`` in both runs that
  carries the metric (``clean_accuracy`` exists on both). With any ``--fail-on``, a cell or row
  ``ok`` in A and present but not ``ok`` in B also fails the gate; cells only in A or only in B
  are listed, never gated (the grid may have changed on purpose).

Runs of different suites, or of different resolved configurations, are compared all the same
(cells match by id) but with a warning naming what differs; an unfinished or interrupted run
is marked, with the number of its missing cells.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.errors import ConfigError
from bench.results.metrics import METRICS, declared, is_rate, is_seconds
from bench.results.model import RunReport, unknown_metric
from bench.suite import differing_fields

#: the built-in rates and times (declared in :mod:`bench.results.metrics`, which also knows
#: the plugins' metrics: :func:`is_rate`, :func:`is_seconds`)
RATE_METRICS = frozenset(n for n, m in METRICS.items() if m.rate)
TIME_METRICS = frozenset(n for n, m in METRICS.items() if m.format == "seconds")
#: shown by default, in this order (``--metric`` chooses others)
DEFAULT_METRICS = ("success_rate", "adv_accuracy", "clean_accuracy", "balanced_accuracy",
                   "robust_accuracy", "l2_mean", "linf_mean", "generate", "per_sample",
                   "train_seconds")
ROW_METRICS = ("clean_accuracy", "balanced_accuracy", "robust_accuracy", "train_seconds")

_THRESHOLD = re.compile(r"^(?P<sign>[+-]?)(?P<amount>\d+(?:\.\d*)?|\.\d+)(?P<pct>%?)$")


@dataclass(frozen=True)
class MetricDiff:
    metric: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass
class EntryDiff:
    """One cell (or row) matched by id; a status of ``None`` means absent from that run."""

    kind: Literal["cell", "row"]
    id: str
    status_a: str | None
    status_b: str | None
    error_b: str | None = None
    metrics: dict[str, MetricDiff] = field(default_factory=dict)

    @property
    def in_both(self) -> bool:
        return self.status_a is not None and self.status_b is not None

    @property
    def regressed(self) -> bool:
        """``ok`` in A and present but not ``ok`` in B (a cell missing from B is not one)."""
        return self.status_a == "ok" and self.status_b is not None and self.status_b != "ok"


@dataclass
class RunInfo:
    """What a comparison says about each run: its suite, status and completeness."""

    id: int
    suite_name: str
    status: str
    incomplete: bool
    missing: int
    notice: str | None

    @property
    def label(self) -> str:
        """``run 3`` or ``run 3 (interrupted, 5 cells missing)``."""
        if not self.incomplete:
            return f"run {self.id}"
        gap = f", {self.missing} cell{'s' if self.missing != 1 else ''} missing" \
            if self.missing else ""
        return f"run {self.id} ({self.status}{gap})"


@dataclass
class Comparison:
    run_a: int
    run_b: int
    rows: list[EntryDiff]
    cells: list[EntryDiff]
    info_a: RunInfo | None = None
    info_b: RunInfo | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def only_a(self) -> list[str]:
        return [c.id for c in self.cells if c.status_b is None]

    @property
    def only_b(self) -> list[str]:
        return [c.id for c in self.cells if c.status_a is None]

    @property
    def status_changes(self) -> list[EntryDiff]:
        return [e for e in self.rows + self.cells if e.in_both and e.status_a != e.status_b]

    def metric_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.rows + self.cells:
            seen.update(dict.fromkeys(e.metrics))
        return list(seen)


def _values(entry: dict[str, Any] | None, kind: str) -> dict[str, float | None]:
    if entry is None:
        return {}
    if kind == "row":
        return {m: entry.get(m) for m in ROW_METRICS}
    return {**entry["metrics"], **entry["timings"]}


def _diff(kind: Literal["cell", "row"], key: str, a: Any, b: Any) -> EntryDiff:
    va, vb = _values(a, kind), _values(b, kind)
    names = list(dict.fromkeys([*va, *vb]))
    return EntryDiff(kind, key, None if a is None else a["status"],
                     None if b is None else b["status"], None if b is None else b.get("error"),
                     {m: MetricDiff(m, va.get(m), vb.get(m)) for m in names})


def _match(kind: Literal["cell", "row"], key: str, a: Sequence[Any],
           b: Sequence[Any]) -> list[EntryDiff]:
    """Entries (cells, or rows as dicts) matched by ``key``, diffed."""
    by_a = {e[key]: e for e in a}
    by_b = {e[key]: e for e in b}
    ids = list(dict.fromkeys([*by_a, *by_b]))
    return [_diff(kind, i, by_a.get(i), by_b.get(i)) for i in ids]


def _info(report: RunReport) -> RunInfo:
    run = report.run
    return RunInfo(int(run["id"]), str(run["suite_name"]), str(run["status"]),
                   report.incomplete, report.missing_count(), report.incomplete_notice())


def run_warnings(report_a: RunReport, report_b: RunReport) -> list[str]:
    """Different suites, different resolved configurations (the top-level suite fields that
    differ), incomplete runs: one line each."""
    a, b = report_a.run, report_b.run
    out = []
    if a["suite_name"] != b["suite_name"]:
        out.append(f"run {a['id']} is of suite '{a['suite_name']}', run {b['id']} of suite "
                   f"'{b['suite_name']}': cells are matched by id only")
    sa, sb = a.get("suite") or {}, b.get("suite") or {}
    differ = [k for k in differing_fields(sa, sb) if k != "name"]  # names: warned above
    if differ:
        out.append(f"runs {a['id']} and {b['id']} have different configurations (suite fields "
                   f"that differ: {', '.join(differ)})")
    for report in (report_a, report_b):
        notice = report.incomplete_notice()
        if notice:
            out.append(notice)
    return out


def _rows(report: RunReport) -> list[dict[str, Any]]:
    """Rows with their worst-case robust accuracy (the first tier), a row metric."""
    out = []
    for r in report.rows:
        tiers = (report.robust.get(r["row_id"]) or {}).get("tiers") or [{}]
        out.append({**r.to_dict(), "robust_accuracy": tiers[0].get("robust_accuracy")})
    return out


def compare_runs(report_a: RunReport, report_b: RunReport) -> Comparison:
    """Match rows by row id and cells by canonical cell id; diff every numeric value."""
    return Comparison(int(report_a.run["id"]), int(report_b.run["id"]),
                      _match("row", "row_id", _rows(report_a), _rows(report_b)),
                      _match("cell", "cell_id", report_a.cells, report_b.cells),
                      _info(report_a), _info(report_b), run_warnings(report_a, report_b))


# ---- thresholds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    text: str
    metric: str
    sign: Literal["+", "-", ""]
    amount: float
    percent: bool

    @property
    def points(self) -> bool:
        """A ``%`` on a rate: percentage points rather than relative change."""
        return self.percent and is_rate(self.metric)

    def change(self, a: float, b: float) -> float:
        """B - A in the threshold's unit (points, % of A, or the metric's own unit)."""
        if self.points:
            return 100 * (b - a)
        if self.percent:
            if a == 0:
                return 0.0 if b == 0 else math.copysign(math.inf, b)
            return 100 * (b - a) / abs(a)
        return b - a

    def crossed(self, a: float, b: float) -> bool:
        change = round(self.change(a, b), 9)  # 0.45 -> 0.50 is 5 points, not 5.000000000004
        if self.sign == "+":
            return change > self.amount
        if self.sign == "-":
            return change < -self.amount
        return abs(change) > self.amount


def parse_threshold(text: str) -> Threshold:
    metric, sep, spec = text.partition(":")
    metric, spec = metric.strip(), spec.strip()
    if not sep or not metric or not spec:
        raise ConfigError(f"--fail-on '{text}': expected METRIC:THRESHOLD, e.g. "
                          "success_rate:+5% or generate:+50%")
    m = _THRESHOLD.match(spec)
    if m is None:
        raise ConfigError(f"--fail-on '{text}': threshold '{spec}' must be a number with an "
                          "optional sign and %, e.g. +5%, -2%, 0.05")
    return Threshold(text, metric, m["sign"], float(m["amount"]),  # type: ignore[arg-type]
                     bool(m["pct"]))


@dataclass(frozen=True)
class Crossing:
    entry: EntryDiff
    threshold: Threshold | None  # None: the entry was ok in A and is not ok in B
    a: float | None = None
    b: float | None = None

    def message(self) -> str:
        if self.threshold is None:
            why = f": {self.entry.error_b}" if self.entry.error_b else ""
            return (f"{self.entry.kind} {self.entry.id}: {self.entry.status_a} -> "
                    f"{self.entry.status_b}{why}")
        t = self.threshold
        assert self.a is not None and self.b is not None
        m = declared(t.metric)
        way = ""
        if m is not None and m.direction != "none" and self.a != self.b:
            way = ", worse" if (self.b < self.a) == (m.direction == "higher") else ", better"
        return (f"{t.text} crossed by {self.entry.id}: {fmt_metric(t.metric, self.a)} -> "
                f"{fmt_metric(t.metric, self.b)} ({fmt_change(t, self.a, self.b)}{way})")


def fmt_change(t: Threshold, a: float, b: float) -> str:
    """The change in the unit the threshold is stated in."""
    change = t.change(a, b)
    if t.points:
        return f"{change:+.1f} points"
    if t.percent:
        return f"{'+' if change > 0 else '-'}inf%" if math.isinf(change) else f"{change:+.1f}%"
    return f"{change:+.4g}{'s' if is_seconds(t.metric) else ''}"


def fmt_metric(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if is_rate(metric):
        return f"{100 * value:.1f}%"
    if is_seconds(metric):
        return f"{value:.3g}s"
    return f"{value:.4g}"


def validate_metrics(names: list[str], comparison: Comparison, what: str) -> None:
    known = set(comparison.metric_names()) | set(DEFAULT_METRICS)
    for name in names:
        if name not in known:
            raise unknown_metric(what, name, known)


def check(comparison: Comparison, thresholds: list[Threshold]) -> list[Crossing]:
    """Every threshold crossing, then every ok -> not ok status change (if any threshold)."""
    if not thresholds:
        return []
    out: list[Crossing] = []
    entries = [e for e in comparison.rows + comparison.cells
               if e.status_a == "ok" and e.status_b == "ok"]
    for t in thresholds:
        for e in entries:
            d = e.metrics.get(t.metric)
            if d is not None and d.a is not None and d.b is not None and t.crossed(d.a, d.b):
                out.append(Crossing(e, t, d.a, d.b))
    out += [Crossing(e, None) for e in comparison.rows + comparison.cells if e.regressed]
    return out
