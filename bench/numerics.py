"""Small numerical helpers shared by the core and plugins (public API)."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` over the last axis, computed stably in float64 (a
    float64 array: cast it for training targets)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sample_rng(seed: int, restart: int, sample: np.ndarray) -> np.random.Generator:
    """A generator seeded by ``(seed, restart, crc32 of the sample's bytes)``: a sample gets the
    same random draws whatever batch the host hands it in (``generate`` is called per batch)."""
    import zlib

    return np.random.default_rng([seed, restart, zlib.crc32(sample.tobytes())])
