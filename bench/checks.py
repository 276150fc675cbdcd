"""Contract checks on every adversarial batch: a violation fails the cell."""

from __future__ import annotations

import math
from collections.abc import Hashable
from numbers import Real
from typing import Any

import numpy as np

from bench.errors import AttackCheckError

#: float tolerance on the data range and on eps (float32 arithmetic of clip / sign steps)
ATOL = 1e-5

#: the norms an attack may promise, in the spellings accepted (``norm_of`` computes each)
NORMS: dict[Any, float | str] = {"inf": "inf", 0: 0, 1: 1, 2: 2}


def check_bound(bound: Any) -> tuple[float | str, float] | None:
    """Validate what ``Attack.bound()`` returned: None, or ``(norm, eps)`` with a known norm and
    a finite ``eps >= 0``. A malformed bound would silently skip the eps check: fail instead."""
    if bound is None:
        return None
    if not isinstance(bound, tuple | list) or len(bound) != 2:
        raise AttackCheckError(f"bound() must return (norm, eps) or None, got {bound!r:.60}")
    norm, eps = bound
    key: Any = norm
    if isinstance(norm, Real) and not isinstance(norm, bool):
        key = "inf" if norm == math.inf else float(norm)  # 2.0 finds the key 2
    if isinstance(norm, bool) or not isinstance(key, Hashable) or key not in NORMS:
        raise AttackCheckError(
            f"bound() returned an unknown norm {norm!r:.40}: expected 'inf', 0, 1 or 2")
    if isinstance(eps, bool) or not isinstance(eps, Real) or not math.isfinite(eps) or eps < 0:
        shown = repr(float(eps)) if isinstance(eps, Real) and not isinstance(eps, bool) \
            else f"{eps!r:.40}"
        raise AttackCheckError(
            f"bound() returned eps={shown}: eps must be a finite number >= 0")
    return NORMS[key], float(eps)


def norm_of(delta: np.ndarray, norm: float | str) -> np.ndarray:
    """Per-sample norm of a batch of perturbations."""
    flat = delta.reshape(len(delta), -1).astype(np.float64)
    if norm in ("inf", np.inf, float("inf")):
        return np.abs(flat).max(axis=1) if flat.size else np.zeros(len(delta))
    if norm in (0, "0"):
        return (np.abs(flat) > ATOL).sum(axis=1).astype(np.float64)
    return np.linalg.norm(flat, ord=float(norm), axis=1)


def check_adversarial(
    x: np.ndarray,
    x_adv: np.ndarray,
    clip_values: tuple[float, float],
    bound: tuple[float | str, float] | None,
) -> None:
    """Raise :class:`AttackCheckError` unless ``x_adv`` is finite, in range and within bound."""
    if x_adv.shape != x.shape:
        raise AttackCheckError(f"adversarial batch has shape {x_adv.shape}, expected {x.shape}")
    n = len(x)
    finite = np.isfinite(x_adv).reshape(n, -1).all(axis=1)
    if not finite.all():
        raise AttackCheckError(f"{int((~finite).sum())} of {n} adversarial examples are not finite")
    lo, hi = clip_values
    flat = x_adv.reshape(n, -1)
    over = np.maximum(flat.max(axis=1) - hi, lo - flat.min(axis=1))
    bad = over > ATOL
    if bad.any():
        raise AttackCheckError(
            f"{int(bad.sum())} of {n} adversarial examples leave the data range [{lo:g}, {hi:g}] "
            f"(by up to {over.max():.3g})"
        )
    checked = check_bound(bound)
    if checked is not None:
        norm, eps = checked
        dist = norm_of(x_adv - x, norm)
        excess = dist - eps
        bad = excess > ATOL * max(1.0, eps)
        if bad.any():
            raise AttackCheckError(
                f"{int(bad.sum())} of {n} adversarial examples exceed eps={eps:g} in the "
                f"L{norm} norm (by up to {excess.max():.3g})"
            )
