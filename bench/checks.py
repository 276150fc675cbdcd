"""Contract checks on every adversarial batch: a violation fails the cell."""

from __future__ import annotations

import numpy as np

from bench.errors import AttackCheckError

#: float tolerance on the data range and on eps (float32 arithmetic of clip / sign steps)
ATOL = 1e-5


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
    if bound is not None:
        norm, eps = bound
        dist = norm_of(x_adv - x, norm)
        excess = dist - eps
        bad = excess > ATOL * max(1.0, eps)
        if bad.any():
            raise AttackCheckError(
                f"{int(bad.sum())} of {n} adversarial examples exceed eps={eps:g} in the "
                f"L{norm} norm (by up to {excess.max():.3g})"
            )
