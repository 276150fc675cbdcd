"""Target classes for targeted attacks, computed by the host from an attack's ``target``."""

from __future__ import annotations

import numpy as np

from bench.errors import ConfigError
from bench.interfaces import TargetSpec


def check_target(spec: TargetSpec, num_classes: int, where: str) -> None:
    if isinstance(spec, int) and not 0 <= spec < num_classes:
        raise ConfigError(
            f"{where}: target class {spec} is out of range (the dataset has classes 0.."
            f"{num_classes - 1})"
        )


def compute_targets(
    spec: TargetSpec,
    y: np.ndarray,
    clean_logits: np.ndarray,
    num_classes: int,
    seed: int,
) -> np.ndarray | None:
    """One target per sample, or None when untargeted.

    - an int: that class for every sample;
    - ``random``: uniform among the classes other than the true one (seeded);
    - ``least-likely``: the class with the lowest clean logit;
    - ``next``: ``(y + 1) mod K``.
    """
    if spec is None:
        return None
    y = np.asarray(y, dtype=np.int64)
    if isinstance(spec, int):
        return np.full_like(y, spec)
    if spec == "random":
        rng = np.random.default_rng(seed)
        offset = rng.integers(1, num_classes, size=y.shape)
        return (y + offset) % num_classes
    if spec == "least-likely":
        return np.argmin(clean_logits, axis=1).astype(np.int64)
    if spec == "next":
        return (y + 1) % num_classes
    raise ConfigError(f"unknown target {spec!r}")
