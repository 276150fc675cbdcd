"""Losses, success checks and the tanh change of variables shared by the native attacks.

Everything here works on a batch: ``z`` are logits ``(N, K)``, ``onehot`` the one-hot of the
class the attack is about (the target when targeted, the true label otherwise).
"""

from __future__ import annotations

import tensorflow as tf

#: Carlini & Wagner's smoother: arctanh of +-1 is infinite, so scale by this before arctanh.
TANH_SMOOTHER = 0.999999


def real_and_other(z: tf.Tensor, onehot: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Logit of the class of ``onehot`` and the largest logit of every other class."""
    real = tf.reduce_sum(z * onehot, axis=1)
    other = tf.reduce_max(tf.where(onehot > 0, tf.constant(-float("inf"), z.dtype), z), axis=1)
    return real, other


def cw_margin(z: tf.Tensor, onehot: tf.Tensor, targeted: bool, kappa: tf.Tensor) -> tf.Tensor:
    """Carlini & Wagner's f on the logits as a hinge: 0 once the example is adversarial by kappa.

    Targeted: ``max(max_{i!=t} Z_i - Z_t + kappa, 0)``; untargeted:
    ``max(Z_y - max_{i!=y} Z_i + kappa, 0)``. (The paper's ``max(., -kappa)`` differs by the
    constant kappa only, with the same gradient.)
    """
    real, other = real_and_other(z, onehot)
    diff = other - real if targeted else real - other
    return tf.maximum(diff + kappa, 0.0)


def is_adversarial(z: tf.Tensor, onehot: tf.Tensor, targeted: bool, kappa: tf.Tensor) -> tf.Tensor:
    """Carlini & Wagner's ``compare``: prediction is the target (resp. not the label) by kappa."""
    cls = tf.argmax(onehot, axis=1)
    if targeted:
        return tf.equal(tf.argmax(z - kappa * onehot, axis=1), cls)
    return tf.not_equal(tf.argmax(z + kappa * onehot, axis=1), cls)


def ce_loss(z: tf.Tensor, onehot: tf.Tensor, temperature: tf.Tensor) -> tf.Tensor:
    """Per-sample cross-entropy of ``softmax(z / temperature)`` against ``onehot``."""
    return tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=z / temperature)


def to_tanh(x: tf.Tensor, lo: tf.Tensor, hi: tf.Tensor) -> tf.Tensor:
    """Image in ``[lo, hi]`` -> unconstrained tanh-space variable."""
    unit = tf.clip_by_value((x - lo) / (hi - lo), 0.0, 1.0)
    return tf.atanh((unit * 2.0 - 1.0) * TANH_SMOOTHER)


def from_tanh(w: tf.Tensor, lo: tf.Tensor, hi: tf.Tensor) -> tf.Tensor:
    """Tanh-space variable -> image in ``[lo, hi]``."""
    return lo + (hi - lo) * (tf.tanh(w) + 1.0) * 0.5


def per_sample(v: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """Reshape a ``(N,)`` vector so that it broadcasts against ``like`` ``(N, ...)``."""
    rank = tf.rank(like)
    return tf.reshape(v, tf.concat([tf.shape(v), tf.ones([rank - 1], tf.int32)], axis=0))


def restart(
    reset: tf.Tensor, w: tf.Tensor, m: tf.Tensor, v: tf.Tensor, t: tf.Tensor,
    step: tf.Tensor, step1: tf.Tensor, start: tf.Tensor, lo: tf.Tensor, hi: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Samples with ``reset`` restart from image ``start`` with fresh Adam state and step 0;
    the others keep their state and advance to ``step1``."""
    r = per_sample(reset, w)
    return (tf.where(r, to_tanh(start, lo, hi), w), tf.where(r, tf.zeros_like(m), m),
            tf.where(r, tf.zeros_like(v), v), tf.where(reset, tf.zeros_like(t), t),
            tf.where(reset, tf.zeros_like(step), step1))


def adam_step(
    w: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, t: tf.Tensor,
    lr: tf.Tensor, active: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """One Adam step (beta1 0.9, beta2 0.999, eps 1e-8, TF1 form) on the ``active`` samples only.

    ``t`` is each sample's own step count, so a sample's optimiser can be reset on its own.
    """
    t1 = t + 1.0
    m1 = 0.9 * m + 0.1 * g
    v1 = 0.999 * v + 0.001 * tf.square(g)
    lr_t = lr * tf.sqrt(1.0 - tf.pow(0.999, t1)) / (1.0 - tf.pow(0.9, t1))
    w1 = w - per_sample(lr_t, w) * m1 / (tf.sqrt(v1) + 1e-8)
    sel = per_sample(active, w)
    return (tf.where(sel, w1, w), tf.where(sel, m1, m), tf.where(sel, v1, v),
            tf.where(active, t1, t))
