"""Projected gradient descent (Madry et al. 2018), compiled and batched, L-inf and L2.

``x_{t+1} = P(x_t + alpha * d_t)`` with ``d_t = sign(grad)`` (L-inf) or ``grad / ||grad||_2``
(L2), ``P`` the projection onto the eps ball around ``x`` and the data range, from a uniform
random start in the ball (``random_start``). The loss is ascended: cross-entropy of the true
label (descended towards the target when targeted) or Carlini & Wagner's margin. With restarts,
each sample keeps the first restart that made it adversarial. Random starts are drawn per
sample from the seed and the sample's bytes, so an example does not depend on its batch.

:func:`pgd_graph` is plain TensorFlow, traceable inside any ``tf.function``: the adversarial
training defense calls it inside its compiled training step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from bench_builtin.native.losses import ce_loss, cw_margin, is_adversarial, per_sample
from bench_builtin.native.runtime import batches, compiled, image_spec, onehot

from bench.numerics import sample_rng

LOSSES = ("ce", "margin")
NORMS = ("inf", 2)
_TINY = 1e-12


def _l2(v: tf.Tensor) -> tf.Tensor:
    """Per-sample L2 norm, shaped to broadcast against ``v``."""
    flat = tf.reshape(v, [tf.shape(v)[0], -1])
    return per_sample(tf.sqrt(tf.reduce_sum(flat * flat, axis=1) + _TINY), v)


def _project(x: tf.Tensor, x0: tf.Tensor, eps: tf.Tensor, norm: str | int, lo: tf.Tensor,
             hi: tf.Tensor) -> tf.Tensor:
    delta = x - x0
    if norm == "inf":
        delta = tf.clip_by_value(delta, -eps, eps)
    else:
        delta = delta * tf.minimum(1.0, eps / _l2(delta))
    return tf.clip_by_value(x0 + delta, lo, hi)


def _start(x0: tf.Tensor, eps: tf.Tensor, norm: str | int) -> tf.Tensor:
    """A uniform random point of the eps ball (L2: uniform direction, radius eps * u^(1/d))."""
    if norm == "inf":
        return x0 + tf.random.uniform(tf.shape(x0), -eps, eps)
    g = tf.random.normal(tf.shape(x0))
    d = tf.cast(tf.reduce_prod(tf.shape(x0)[1:]), tf.float32)
    r = tf.random.uniform(tf.shape(x0)[:1]) ** (1.0 / d)
    return x0 + g / _l2(g) * per_sample(r, x0) * eps


def pgd_graph(model: Any, x0: tf.Tensor, oh: tf.Tensor, eps: tf.Tensor, alpha: tf.Tensor,
              steps: int | tf.Tensor, lo: tf.Tensor, hi: tf.Tensor, *, norm: str | int = "inf",
              loss: str = "ce", targeted: bool = False, random_start: bool = True,
              kappa: tf.Tensor | float = 0.0, start: tf.Tensor | None = None) -> tf.Tensor:
    """The last PGD iterate for a batch (TensorFlow in, TensorFlow out; traceable). With
    ``random_start``, from ``x0 + start`` (a perturbation in the ball) when given, else from a
    point drawn in the graph."""
    kappa = tf.cast(kappa, tf.float32)
    x = x0
    if random_start:
        x = _project(x0 + start if start is not None else _start(x0, eps, norm), x0, eps, norm,
                     lo, hi)
    for _ in tf.range(steps):
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = model(x, training=False)
            if loss == "margin":  # the hinge to minimise: ascend its negative
                objective = -cw_margin(z, oh, targeted, kappa)
            else:
                ce = ce_loss(z, oh, tf.constant(1.0))
                objective = -ce if targeted else ce
            total = tf.reduce_sum(objective)
        g = tape.gradient(total, x)
        step = tf.sign(g) if norm == "inf" else g / _l2(g)
        x = _project(x + alpha * step, x0, eps, norm, lo, hi)
    return tf.stop_gradient(x)


def _build(model: Any, x_spec: tf.TensorSpec, k: int, norm: str | int, loss: str,
           targeted: bool, random_start: bool):
    scalar = tf.TensorSpec([], tf.float32)

    @tf.function(input_signature=[x_spec, tf.TensorSpec([None, k], tf.float32), scalar, scalar,
                                  tf.TensorSpec([], tf.int32), scalar, scalar, scalar, x_spec],
                 jit_compile=False)
    def run(x0, oh, eps, alpha, steps, lo, hi, kappa, start):
        x = pgd_graph(model, x0, oh, eps, alpha, steps, lo, hi, norm=norm, loss=loss,
                      targeted=targeted, random_start=random_start, kappa=kappa, start=start)
        return x, is_adversarial(model(x, training=False), oh, targeted, tf.constant(0.0))

    return run


def host_starts(x: np.ndarray, eps: float, norm: str | int, seed: int,
                restart: int) -> np.ndarray:
    """Random starts drawn per sample from ``(seed, restart, crc32 of the sample)``: a sample
    gets the same start whatever batch it is in (the host calls ``generate`` per batch)."""
    out = np.empty_like(x)
    d = int(np.prod(x.shape[1:]))
    for i, xi in enumerate(x):
        rng = sample_rng(seed, restart, xi)
        if norm == "inf":
            out[i] = rng.uniform(-eps, eps, xi.shape)
        else:
            g = rng.standard_normal(xi.shape)
            out[i] = g / max(float(np.linalg.norm(g)), _TINY) * eps * rng.uniform() ** (1 / d)
    return out


def pgd(
    model: Any, x: np.ndarray, labels: np.ndarray, num_classes: int, *, targeted: bool,
    eps: float, steps: int, alpha: float, norm: str | int = "inf", loss: str = "ce",
    restarts: int = 1, random_start: bool = True, kappa: float = 0.0,
    clip_values: tuple[float, float] = (0.0, 1.0), batch_size: int = 256, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Run PGD with ``restarts`` random starts. ``labels`` are the targets when ``targeted``,
    else the true labels. Returns ``(x_adv, success)``: per sample, the first adversarial
    restart's iterate, else the last restart's."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    x = np.asarray(x, np.float32)
    run = compiled(model, ("pgd", x.shape[1:], num_classes, norm, loss, targeted, random_start),
                   lambda: _build(model, image_spec(x), num_classes, norm, loss, targeted,
                                  random_start))
    oh = onehot(labels, num_classes)
    out = x.copy()
    success = np.zeros(len(x), bool)
    lo, hi = (float(c) for c in clip_values)
    for restart in range(restarts if random_start else 1):
        todo = np.flatnonzero(~success)
        if not len(todo):
            break
        starts = host_starts(x[todo], eps, norm, seed, restart)
        for sl in batches(len(todo), batch_size):
            idx = todo[sl]
            adv, ok = run(tf.constant(x[idx]), tf.constant(oh[idx]), tf.constant(eps, tf.float32),
                          tf.constant(alpha, tf.float32), tf.constant(steps, tf.int32),
                          tf.constant(lo), tf.constant(hi), tf.constant(kappa, tf.float32),
                          tf.constant(starts[sl]))
            out[idx] = adv.numpy()
            success[idx] = ok.numpy()
    return out, success
