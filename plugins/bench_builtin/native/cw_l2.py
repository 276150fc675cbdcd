"""Carlini & Wagner's L2 attack (2017), written from the paper, compiled and batched.

Minimise ``||x' - x||_2^2 + c * f(x')`` over ``x' = tanh-image(w)`` with Adam, ``f`` the margin
on the logits; a binary search over ``c`` per sample (multiply by 10 until a first success, then
bisect); the smallest successful iterate seen across all steps is the answer. Early abort is per
sample: every ``iterations // 10`` steps a sample whose loss has not dropped by 0.01 % stops.

Unlike ART 1.20.1's ``CarliniL2Method``, the lower bound of ``c`` is a separate array (ART
aliases it to the array it updates, so after one failure ``c`` can never decrease again).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from bench_builtin.native.losses import (
    adam_step,
    cw_margin,
    from_tanh,
    is_adversarial,
    per_sample,
    to_tanh,
)
from bench_builtin.native.runtime import batches, compiled, image_spec, onehot

UPPER_C = 1e10


def _build(model: Any, x_spec: tf.TensorSpec, k: int, targeted: bool, abort_early: bool):
    scalar = tf.TensorSpec([], tf.float32)
    vec = tf.TensorSpec([None], tf.float32)

    @tf.function(input_signature=[x_spec, tf.TensorSpec([None, k], tf.float32), vec, scalar,
                                  tf.TensorSpec([], tf.int32), scalar, scalar, scalar])
    def run(x0, oh, const, lr, iterations, lo, hi, kappa):
        """One binary-search step: Adam from w0 for ``iterations`` steps at fixed ``const``."""
        w0 = to_tanh(x0, lo, hi)
        ref = from_tanh(w0, lo, hi)
        n = tf.shape(x0)[0]
        mod = tf.zeros_like(x0)
        m = tf.zeros_like(x0)
        v = tf.zeros_like(x0)
        t = tf.zeros([n])
        best_l2 = tf.fill([n], float("inf"))
        best = ref
        prev = tf.fill([n], float("inf"))
        active = tf.ones([n], tf.bool)
        every = tf.maximum(iterations // 10, 1)
        for i in tf.range(iterations):
            if not tf.reduce_any(active):
                break
            with tf.GradientTape() as tape:
                tape.watch(mod)
                img = from_tanh(w0 + mod, lo, hi)
                z = model(img, training=False)
                l2 = tf.reduce_sum(tf.square(img - ref), axis=[1, 2, 3])
                loss = l2 + const * cw_margin(z, oh, targeted, kappa)
                total = tf.reduce_sum(loss)
            g = tape.gradient(total, mod)
            better = is_adversarial(z, oh, targeted, kappa) & (l2 < best_l2)
            best_l2 = tf.where(better, l2, best_l2)
            best = tf.where(per_sample(better, img), img, best)
            if abort_early:
                check = tf.equal(i % every, 0)
                active = active & ~(check & (loss > prev * 0.9999))
                prev = tf.where(check, loss, prev)
            mod, m, v, t = adam_step(mod, g, m, v, t, lr, active)
        return best_l2, best - ref

    return run


def cw_l2(
    model: Any, x: np.ndarray, labels: np.ndarray, num_classes: int, *, targeted: bool,
    kappa: float = 0.0, iterations: int = 1000, binary_search_steps: int = 9,
    learning_rate: float = 1e-2, initial_const: float = 1e-3, abort_early: bool = True,
    clip_values: tuple[float, float] = (0.0, 1.0), batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Run CW L2. ``labels`` are targets when ``targeted`` else true labels.

    Returns ``(x_adv, success, info)``; unsuccessful samples are returned unchanged.
    """
    x = np.asarray(x, np.float32)
    run = compiled(model, ("cw_l2", x.shape[1:], num_classes, targeted, abort_early),
                   lambda: _build(model, image_spec(x), num_classes, targeted, abort_early))
    oh = onehot(labels, num_classes)
    lo, hi = (float(c) for c in clip_values)
    out = x.copy()
    success = np.zeros(len(x), bool)
    final_c = np.zeros(len(x), np.float32)
    args = (tf.constant(learning_rate, tf.float32), tf.constant(iterations, tf.int32),
            tf.constant(lo), tf.constant(hi), tf.constant(kappa, tf.float32))
    for sl in batches(len(x), batch_size):
        xb = tf.constant(x[sl])
        ohb = tf.constant(oh[sl])
        n = len(x[sl])
        c = np.full(n, initial_const, np.float32)
        lower = np.zeros(n, np.float32)
        upper = np.full(n, UPPER_C, np.float32)
        o_l2 = np.full(n, np.inf, np.float32)
        o_delta = np.zeros_like(x[sl])
        for step in range(binary_search_steps):
            if binary_search_steps >= 10 and step == binary_search_steps - 1:
                c = np.where(upper < 1e9, upper, c)  # the paper's "repeat" at the last step
            l2, delta = (a.numpy() for a in run(xb, ohb, tf.constant(c), *args))
            ok = np.isfinite(l2)
            better = ok & (l2 < o_l2)
            o_l2 = np.where(better, l2, o_l2)
            o_delta[better] = delta[better]
            upper = np.where(ok, np.minimum(upper, c), upper)
            lower = np.where(ok, lower, np.maximum(lower, c))
            c = np.where(upper < 1e9, (lower + upper) / 2, c * 10).astype(np.float32)
        out[sl] = np.clip(x[sl] + o_delta, lo, hi)
        success[sl] = np.isfinite(o_l2)
        final_c[sl] = np.where(upper < 1e9, upper, np.nan)
    return out, success, {"const": final_c}
