"""Iterative FGSM exactly as the reference study writes it, compiled and batched.

``x_{t+1} = clip_{x, eps}(x_t - alpha * sign(grad_x L(x_t)))`` where ``L`` is the loss to
*minimise*: cross-entropy towards the target (targeted), minus cross-entropy of the true label
(untargeted, i.e. the ascent form), or Carlini & Wagner's margin. Projected onto the eps ball and
the data range after every step, started at ``x_0 = x``, no random start.

Result: the last iterate when it is adversarial (what the reference formula returns), else the
most recent adversarial iterate, else the last iterate. With ``early_stop`` the loop of a batch
ends as soon as every sample of it is adversarial; each sample then keeps that (adversarial)
iterate, which may differ from the reference's last iterate only for samples whose later steps
would have kept them adversarial anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from bench_builtin.native.losses import ce_loss, cw_margin, is_adversarial, per_sample
from bench_builtin.native.runtime import batches, compiled, image_spec, onehot

LOSSES = ("ce", "ce-t", "margin")


def _build(model: Any, x_spec: tf.TensorSpec, k: int, loss: str, targeted: bool, early: bool):
    scalar = tf.TensorSpec([], tf.float32)

    def adv_loss(z: tf.Tensor, oh: tf.Tensor, temperature: tf.Tensor, kappa: tf.Tensor):
        if loss == "margin":
            return cw_margin(z, oh, targeted, kappa)
        ce = ce_loss(z, oh, temperature if loss == "ce-t" else tf.constant(1.0))
        return ce if targeted else -ce

    @tf.function(input_signature=[x_spec, tf.TensorSpec([None, k], tf.float32), scalar, scalar,
                                  tf.TensorSpec([], tf.int32), scalar, scalar, scalar, scalar],
                 jit_compile=False)
    def run(x0, oh, eps, alpha, iterations, lo, hi, temperature, kappa):
        lower = tf.maximum(x0 - eps, lo)
        upper = tf.minimum(x0 + eps, hi)
        x = x0
        best = x0
        found = tf.zeros(tf.shape(x0)[:1], tf.bool)
        for _ in tf.range(iterations):
            with tf.GradientTape() as tape:
                tape.watch(x)
                z = model(x, training=False)
                total = tf.reduce_sum(adv_loss(z, oh, temperature, kappa))
            succ = is_adversarial(z, oh, targeted, tf.constant(0.0))
            best = tf.where(per_sample(succ, x), x, best)
            found = found | succ
            if early and tf.reduce_all(succ):
                break
            g = tape.gradient(total, x)
            x = tf.clip_by_value(x - alpha * tf.sign(g), lower, upper)
        succ = is_adversarial(model(x, training=False), oh, targeted, tf.constant(0.0))
        out = tf.where(per_sample(succ | ~found, x), x, best)
        return out, succ | found

    return run


def ifgsm(
    model: Any, x: np.ndarray, labels: np.ndarray, num_classes: int, *, targeted: bool,
    eps: float, iterations: int, alpha: float | None = None, loss: str = "ce",
    temperature: float = 1.0, kappa: float = 0.0, clip_values: tuple[float, float] = (0.0, 1.0),
    batch_size: int = 256, early_stop: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Run I-FGSM. ``labels`` are the targets when ``targeted``, else the true labels.

    Returns ``(x_adv, success)``; ``success[i]`` says the returned example is adversarial.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    x = np.asarray(x, np.float32)
    step = eps / iterations if alpha is None else alpha
    run = compiled(model, ("ifgsm", x.shape[1:], num_classes, loss, targeted, early_stop),
                   lambda: _build(model, image_spec(x), num_classes, loss, targeted, early_stop))
    oh = onehot(labels, num_classes)
    out = np.empty_like(x)
    success = np.zeros(len(x), bool)
    lo, hi = (float(c) for c in clip_values)
    for sl in batches(len(x), batch_size):
        adv, ok = run(tf.constant(x[sl]), tf.constant(oh[sl]), tf.constant(eps, tf.float32),
                      tf.constant(step, tf.float32), tf.constant(iterations, tf.int32),
                      tf.constant(lo), tf.constant(hi), tf.constant(temperature, tf.float32),
                      tf.constant(kappa, tf.float32))
        out[sl] = adv.numpy()
        success[sl] = ok.numpy()
    return out, success
