"""Metric declarations (the one place a metric's facts live) and per-cell metrics computed from
clean and adversarial predictions.

Each metric is declared once, as a :class:`Metric`: name, unit, direction (is higher better?),
format, scope (per cell, per row or per sample) and description. The store (which values are
numeric), the reports (formatting), ``bench compare`` (units of thresholds) and ``--fail-on``
read the declaration. A plugin declares more with the hook ``bench_register_metrics()``,
returning :class:`Metric` objects; one with ``compute`` is computed for every cell like a
built-in metric (in the process that runs the cell). A run stores its plugins' declarations,
so its reports and ``bench compare`` format and gate those metrics without the plugin loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

from bench.checks import norm_of
from bench.errors import PluginError
from bench.numerics import softmax

__all__ = ["METRICS", "Metric", "MetricInputs", "cell_metrics", "declared", "fmt_value",
           "softmax"]


@dataclass(frozen=True)
class MetricInputs:
    """What a plugin metric's ``compute`` receives for one cell (NumPy arrays, read-only)."""

    x: np.ndarray
    x_adv: np.ndarray
    y: np.ndarray
    clean_logits: np.ndarray
    adv_logits: np.ndarray
    #: per-sample target classes of a targeted attack, else None
    targets: np.ndarray | None


@dataclass(frozen=True)
class Metric:
    """One metric's facts. ``direction``: which way is better (``higher``, ``lower``, or
    ``none`` when neither is, e.g. a sample count); ``format``: ``percent`` (a rate in
    [0, 1]), ``count``, ``seconds``, ``norm`` or ``number``; ``scope``: ``cell``, ``row`` or
    ``sample``. ``compute`` (plugin metrics): ``MetricInputs -> float | None`` per cell."""

    name: str
    description: str
    unit: str = ""
    direction: Literal["higher", "lower", "none"] = "none"
    format: Literal["percent", "count", "seconds", "norm", "number"] = "number"
    scope: Literal["cell", "row", "sample"] = "cell"
    compute: Callable[[MetricInputs], float | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The declaration as a run stores it (everything but ``compute``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "compute"}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Metric:
        return cls(**{f.name: d[f.name] for f in fields(cls)
                      if f.name in d and f.name != "compute"})

    @property
    def rate(self) -> bool:
        """A rate in [0, 1]: shown as a percentage, ``%`` thresholds in points."""
        return self.format == "percent"

    def fmt(self, value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, str):
            return value
        if self.format == "percent":
            return f"{100 * value:.1f}%"
        if self.format == "seconds":
            return f"{value:.3g}s"
        if self.format == "count":
            return f"{value:g}"
        return f"{value:.3g}"


def _m(name: str, description: str, **kw: Any) -> Metric:
    return Metric(name, description, **kw)


_RATE: dict[str, Any] = {"format": "percent", "unit": "%"}
_NORM = "norm of successful perturbations"
#: the built-in metrics
METRICS: dict[str, Metric] = {m.name: m for m in [
    _m("success_rate", "attack success among eligible samples (untargeted: correctly "
       "classified; targeted: label is not the target)", direction="lower", **_RATE),
    _m("adv_accuracy", "accuracy on the adversarial examples", direction="higher", **_RATE),
    _m("clean_accuracy", "accuracy on the clean samples", direction="higher", **_RATE),
    _m("balanced_accuracy", "mean per-class recall on the whole evaluation subset",
       direction="higher", scope="row", **_RATE),
    _m("robust_accuracy", "worst-case accuracy over every attack on a row (first tier; an "
       "upper bound)", direction="higher", scope="row", **_RATE),
    _m("adv_confidence_mean", "mean softmax confidence of successful adversarial predictions",
       **_RATE),
    _m("samples", "evaluated samples", format="count"),
    _m("success_count", "successful adversarial examples", format="count"),
    _m("success_denominator", "samples eligible for success", format="count"),
    _m("predicted_as_target", "adversarial predictions equal to the target", format="count"),
    *(_m(f"{n}_{stat}", f"{stat} L{n[1:] if n != 'linf' else '-inf'} {_NORM}", format="norm",
         direction="higher") for n in ("l0", "l2", "linf") for stat in ("mean", "median")),
    *(_m(n, f"L{n[1:] if n != 'linf' else '-inf'} norm of the perturbation", format="norm",
         scope="sample") for n in ("l0", "l2", "linf")),
    _m("generate", "attack generation time", unit="s", format="seconds", direction="lower"),
    _m("evaluate", "evaluation time of the adversarial examples", unit="s", format="seconds",
       direction="lower"),
    _m("per_sample", "generation time per sample", unit="s", format="seconds",
       direction="lower"),
    _m("source_generate", "generation time of the transferred examples", unit="s",
       format="seconds", direction="lower"),
    _m("train_seconds", "training time of a row's networks", unit="s", format="seconds",
       direction="lower", scope="row"),
]}

#: metrics declared by plugins (``bench_register_metrics``), set when plugins load
_PLUGIN_METRICS: dict[str, Metric] = {}
#: declarations stored with the runs read since (:func:`remember`), for plugins not loaded
_STORED_METRICS: dict[str, Metric] = {}


def use_plugin_metrics(declarations: Iterable[tuple[Metric, str]]) -> None:
    """Replace the plugin-declared metrics with ``declarations`` ((metric, provider) pairs);
    a name declared twice, or a built-in name, is an error naming both."""
    seen: dict[str, str] = {}
    out: dict[str, Metric] = {}
    for metric, provider in declarations:
        if not isinstance(metric, Metric):
            raise PluginError(f"{provider}: bench_register_metrics returned "
                              f"{type(metric).__name__}, not bench.results.metrics.Metric")
        if metric.name in METRICS or metric.name in seen:
            other = seen.get(metric.name, "artbench (built-in)")
            raise PluginError(f"Duplicate metric '{metric.name}': declared by both {other} "
                              f"and {provider}")
        seen[metric.name] = provider
        out[metric.name] = metric
    _PLUGIN_METRICS.clear()
    _PLUGIN_METRICS.update(out)
    _STORED_METRICS.clear()


def remember(declarations: Iterable[Mapping[str, Any]]) -> None:
    """Declarations stored with a run (:meth:`Metric.to_dict`): its plugin metrics are
    formatted and gated as declared even when the plugin is not loaded. A loaded or built-in
    declaration of the same name wins, then the first one remembered; a malformed entry (a
    store written by hand) is ignored, its metric shown as a plain number."""
    for d in declarations:
        try:
            metric = Metric.from_dict(d)
        except TypeError:
            continue
        if isinstance(metric.name, str):
            _STORED_METRICS.setdefault(metric.name, metric)


def declared(name: str | None = None) -> Any:
    """Every declared metric (name -> :class:`Metric`, built-ins first, then the loaded
    plugins', then those remembered from stored runs), or the declaration of ``name`` (None
    when undeclared)."""
    every = {**METRICS, **_PLUGIN_METRICS}
    for key, metric in _STORED_METRICS.items():
        every.setdefault(key, metric)
    return every if name is None else every.get(name)


def is_rate(name: str) -> bool:
    m = declared(name)
    return m is not None and m.rate


def is_seconds(name: str) -> bool:
    m = declared(name)
    return m is not None and m.format == "seconds"


def is_numeric(name: str, value: Any) -> bool:
    """Stored as a metric (a number, or None: no value) rather than as cell info (text,
    lists): what the store asks. Declared metrics are numbers (plugins' are checked when
    computed), so only undeclared keys such as ``success_denominator_is`` become info."""
    return value is None or isinstance(value, int | float) and not isinstance(value, bool)


def _stat(values: np.ndarray, fn: Any) -> float | None:
    return float(fn(values)) if values.size else None


def cell_metrics(
    x: np.ndarray,
    x_adv: np.ndarray,
    y: np.ndarray,
    clean_logits: np.ndarray,
    adv_logits: np.ndarray,
    targets: np.ndarray | None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics of one cell, and per-sample arrays (predictions, success, norms).

    Success rate denominators: untargeted, the samples the model classified correctly;
    targeted, the samples whose true label is not the target (success = predicted as target).
    """
    n = len(y)
    clean_pred = clean_logits.argmax(axis=1)
    adv_pred = adv_logits.argmax(axis=1)
    if targets is None:
        eligible = clean_pred == y
        success = eligible & (adv_pred != y)
        denominator = "correctly classified clean samples"
    else:
        eligible = y != targets
        success = eligible & (adv_pred == targets)
        denominator = "samples whose label is not the target"
    delta = x_adv - x
    norms = {p: norm_of(delta, p) for p in (0, 2, "inf")}
    confidence = softmax(adv_logits).max(axis=1)
    ok = success
    metrics: dict[str, Any] = {
        "samples": n,
        "clean_accuracy": float((clean_pred == y).mean()) if n else None,
        "adv_accuracy": float((adv_pred == y).mean()) if n else None,
        "success_rate": float(ok.sum() / eligible.sum()) if eligible.sum() else None,
        "success_count": int(ok.sum()),
        "success_denominator": int(eligible.sum()),
        "success_denominator_is": denominator,
        "adv_confidence_mean": _stat(confidence[ok], np.mean),
    }
    for name, key in (("l0", 0), ("l2", 2), ("linf", "inf")):
        metrics[f"{name}_mean"] = _stat(norms[key][ok], np.mean)
        metrics[f"{name}_median"] = _stat(norms[key][ok], np.median)
    if targets is not None:
        metrics["predicted_as_target"] = int((adv_pred == targets).sum())
    per_sample = {
        "y": y, "clean_pred": clean_pred, "adv_pred": adv_pred, "success": success,
        "eligible": eligible, "l0": norms[0], "l2": norms[2], "linf": norms["inf"],
        "adv_confidence": confidence, "clean_confidence": softmax(clean_logits).max(axis=1),
    }
    if targets is not None:
        per_sample["target"] = targets
    if _PLUGIN_METRICS:
        metrics.update(_plugin_values(MetricInputs(x, x_adv, y, clean_logits, adv_logits,
                                                   targets)))
    return metrics, per_sample


def _plugin_values(inputs: MetricInputs) -> dict[str, float | None]:
    """The plugin-declared metrics that ``compute`` per cell; one that raises fails the cell
    with one line naming it."""
    out: dict[str, float | None] = {}
    for m in _PLUGIN_METRICS.values():
        if m.compute is None or m.scope != "cell":
            continue
        try:
            value = m.compute(inputs)
        except Exception as exc:  # noqa: BLE001 - plugin code: its cell fails, named
            raise PluginError(f"metric '{m.name}' failed: {type(exc).__name__}: {exc}") from None
        if value is not None and (isinstance(value, bool) or not isinstance(
                value, int | float | np.floating | np.integer)):
            raise PluginError(f"metric '{m.name}' returned {type(value).__name__}, not a number")
        out[m.name] = None if value is None else float(value)
    return out


#: metrics in [0, 1], shown as percentages (the built-in rates; plugins may declare more:
#: :func:`is_rate`)
PERCENT_METRICS = frozenset(n for n, m in METRICS.items() if m.rate)


def fmt_value(value: Any, metric: str = "success_rate") -> str:
    """``value`` as its declared format says (undeclared: three significant digits)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    m = declared(metric)
    if m is not None and m.rate:
        return f"{100 * value:.1f}%"
    return f"{value:.3g}"


def fmt_seconds(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}s"
