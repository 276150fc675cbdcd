"""Per-cell metrics computed from clean and adversarial predictions."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.checks import norm_of


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


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
    return metrics, per_sample


#: metrics in [0, 1], shown as percentages
PERCENT_METRICS = frozenset({"success_rate", "adv_accuracy", "clean_accuracy",
                             "balanced_accuracy", "adv_confidence_mean"})


def fmt_value(value: Any, metric: str = "success_rate") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if metric in PERCENT_METRICS:
        return f"{100 * value:.1f}%"
    return f"{value:.3g}"


def fmt_seconds(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}s"
