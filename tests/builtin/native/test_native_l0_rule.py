"""The L0 pixel-elimination rule: TensorFlow version equals the NumPy reference."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from bench_builtin.native.cw_l0 import _freeze, freeze_least_useful


def test_freeze_rule_tf_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    mask = (rng.random((16, 49)) > 0.3).astype(np.float32)
    change = np.where(rng.random((16, 49)) > 0.5, 0.0, rng.random((16, 49)) * 0.02)
    change = change.astype(np.float32)
    n_changed = rng.integers(0, 49, 16).astype(np.float32)
    want = freeze_least_useful(mask, change, n_changed)
    got = _freeze(tf.constant(mask), tf.constant(change), tf.constant(n_changed)).numpy()
    np.testing.assert_array_equal(got, want)
    frozen = (mask - want).sum(axis=1)
    assert (frozen >= 1).all() and (want <= mask).all()
