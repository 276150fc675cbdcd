"""Carlini & Wagner's L0 attack (2017), written from the paper, compiled and batched.

Repeatedly run an L2 attack restricted to the pixels still allowed to change (``mask``), warm
started from the previous solution, doubling ``c`` (carried over between rounds) until it
succeeds or passes ``largest_const``. After each success, rank the allowed pixels by
``|delta| * |gradient of the objective|`` (summed over channels) and freeze the least useful:
in that order, until one with a total change above 0.01 has been frozen or
``0.3 * sqrt(#changed pixels)`` have been. A sample ends when its L2 attack fails; the answer is
its last solution. Every sample has its own mask, ``c`` and round counter: the whole loop,
freezing included, runs in one compiled state machine, so samples in different rounds advance
together and finished samples leave the batch between chunks of steps.
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
    restart,
    to_tanh,
)
from bench_builtin.native.runtime import batches, compiled, image_spec, onehot, run_compacting

#: Carlini's l0_attack.py asks for a logit margin of 0.01 beyond ``kappa``: a solution exactly on
#: the decision boundary can flip back when the returned image ``clip(x + delta)`` differs from
#: the optimised one by float round-off (about 5e-7 per pixel at 0 and 1)
MARGIN = 0.01


def _freeze(mask: tf.Tensor, change: tf.Tensor, n_changed: tf.Tensor) -> tf.Tensor:
    """The paper's pixel-elimination rule in TensorFlow (same as :func:`freeze_least_useful`)."""
    allowed = mask > 0
    score = tf.where(allowed, change, tf.constant(float("inf")))
    order = tf.argsort(score, axis=1, stable=True)
    ranked = tf.gather(score, order, batch_dims=1)
    n_allowed = tf.reduce_sum(tf.cast(allowed, tf.int32), axis=1)
    big = tf.math.is_finite(ranked) & (ranked > 0.01)
    first = tf.cast(tf.argmax(tf.cast(big, tf.int32), axis=1), tf.int32) + 1
    first_big = tf.where(tf.reduce_any(big, axis=1), first, n_allowed)
    limit = tf.maximum(tf.cast(tf.math.ceil(0.3 * tf.sqrt(n_changed)), tf.int32), 1)
    k = tf.minimum(tf.minimum(first_big, limit), n_allowed)
    rank = tf.argsort(order, axis=1)  # position of each pixel in the ranking
    return mask * tf.cast(rank >= k[:, None], mask.dtype)


def _build(model: Any, x_spec: tf.TensorSpec, k: int, targeted: bool):
    s = tf.TensorSpec([], tf.float32)
    vec = tf.TensorSpec([None], tf.float32)
    flag = tf.TensorSpec([None], tf.bool)
    mask_spec = tf.TensorSpec([None, *x_spec.shape[1:-1], 1], tf.float32)
    specs = [x_spec, tf.TensorSpec([None, k], tf.float32),  # x0, oh
             x_spec, x_spec, x_spec, vec, vec, tf.TensorSpec([None], tf.int32),  # w m v t c step
             x_spec, mask_spec, x_spec, flag, flag, tf.TensorSpec([None], tf.int32),
             s, tf.TensorSpec([], tf.int32), s, s, s, s, tf.TensorSpec([], tf.int32), s]

    @tf.function(input_signature=specs)
    def chunk(x0, oh, w, m, v, t, const, step, start, mask, best, found, done, rounds,
              lr, iterations, factor, largest, lo, hi, n_steps, kappa):
        """Every sample runs its own rounds; a success freezes pixels and starts the next."""
        ref = from_tanh(to_tanh(x0, lo, hi), lo, hi)
        n = tf.shape(x0)[0]
        for _ in tf.range(n_steps):
            if tf.reduce_all(done):
                break
            with tf.GradientTape() as tape:
                tape.watch(w)
                img0 = from_tanh(w, lo, hi)
                tape.watch(img0)
                img = img0 * mask + ref * (1.0 - mask)
                z = model(img, training=False)
                f = cw_margin(z, oh, targeted, kappa + MARGIN)
                loss = const * f + tf.reduce_sum(tf.square(img - ref), axis=[1, 2, 3])
                total = tf.reduce_sum(loss)
            g_w, g_img = tape.gradient(total, [w, img0])
            ok = (f < 1e-4) & is_adversarial(z, oh, targeted, kappa) & ~done
            okx = per_sample(ok, img)
            delta = tf.abs(img - ref)
            change = tf.reshape(tf.reduce_sum(delta * tf.abs(g_img), axis=-1), [n, -1])
            n_changed = tf.reduce_sum(tf.cast(tf.reshape(tf.reduce_max(delta, axis=-1), [n, -1])
                                              >= 1e-4, tf.float32), axis=1)
            flat_mask = tf.reshape(mask, [n, -1])
            new_mask = tf.reshape(_freeze(flat_mask, change, n_changed), tf.shape(mask))
            mask = tf.where(per_sample(ok, mask), new_mask, mask)
            best = tf.where(okx, img, best)
            start = tf.where(okx, img, start)
            found = found | ok
            rounds = rounds + tf.cast(ok, tf.int32)
            step1 = step + 1
            exhausted = ~ok & ~done & (step1 >= iterations)
            const = tf.where(exhausted, const * factor, const)
            empty = tf.reduce_sum(mask, axis=[1, 2, 3]) == 0
            done = done | (exhausted & (const >= largest)) | (ok & empty)
            # a larger c continues from where the smaller one stopped (w and Adam state carried
            # over, as in Carlini's l0_attack.py); only a success restarts, from the solution
            w, m, v, t = adam_step(w, g_w, m, v, t, lr, ~ok & ~done)
            w, m, v, t, step = restart(ok, w, m, v, t, step, step1, start, lo, hi)
            step = tf.where(exhausted, tf.zeros_like(step), step)
        return dict(w=w, m=m, v=v, t=t, const=const, step=step, start=start, mask=mask,
                    best=best, found=found, done=done, rounds=rounds)

    return chunk


ORDER = ("x0", "oh", "w", "m", "v", "t", "const", "step", "start", "mask", "best", "found",
         "done", "rounds")


def freeze_least_useful(mask: np.ndarray, change: np.ndarray, n_changed: np.ndarray) -> np.ndarray:
    """The paper's pixel-elimination rule, vectorised over samples.

    ``mask`` (N, P) 1 for pixels still allowed to change; ``change`` (N, P) their total change
    ``|delta| * |grad|``; ``n_changed`` (N,) number of pixels the solution changed.
    """
    allowed = mask > 0
    score = np.where(allowed, change, np.inf)
    order = np.argsort(score, axis=1, kind="stable")
    ranked = np.take_along_axis(score, order, axis=1)
    n_allowed = allowed.sum(axis=1)
    big = np.isfinite(ranked) & (ranked > 0.01)
    first_big = np.where(big.any(axis=1), np.argmax(big, axis=1) + 1, n_allowed)
    limit = np.maximum(np.ceil(0.3 * np.sqrt(n_changed)), 1).astype(np.int64)
    k = np.minimum(np.minimum(first_big, limit), n_allowed)
    freeze_sorted = np.arange(mask.shape[1])[None, :] < k[:, None]
    out = mask.copy()
    rows = np.repeat(np.arange(mask.shape[0]), mask.shape[1]).reshape(mask.shape)
    out[rows[freeze_sorted], order[freeze_sorted]] = 0
    return out


def cw_l0(
    model: Any, x: np.ndarray, labels: np.ndarray, num_classes: int, *, targeted: bool,
    kappa: float = 0.0, iterations: int = 1000, learning_rate: float = 1e-2,
    initial_const: float = 1e-3, largest_const: float = 2e6, const_factor: float = 2.0,
    clip_values: tuple[float, float] = (0.0, 1.0), batch_size: int = 256, chunk_steps: int = 50,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Run CW L0. ``labels`` are targets when ``targeted`` else true labels."""
    x = np.asarray(x, np.float32)
    chunk = compiled(model, ("cw_l0", x.shape[1:], num_classes, targeted),
                     lambda: _build(model, image_spec(x), num_classes, targeted))
    oh_all = onehot(labels, num_classes)
    lo, hi = (float(c) for c in clip_values)
    hyper = [tf.constant(learning_rate, tf.float32), tf.constant(iterations, tf.int32)]
    hyper += [tf.constant(a, tf.float32) for a in (const_factor, largest_const, lo, hi)]
    hyper += [tf.constant(chunk_steps, tf.int32), tf.constant(kappa, tf.float32)]

    def call(**kw: tf.Tensor) -> dict[str, tf.Tensor]:
        return chunk(*(kw[k] for k in ORDER), *hyper)

    out = x.copy()
    success = np.zeros(len(x), bool)
    rounds = np.zeros(len(x), np.int32)
    for sl in batches(len(x), batch_size):
        xb, oh = x[sl], oh_all[sl]
        n = len(xb)
        w0 = to_tanh(tf.constant(xb), lo, hi).numpy()
        ref = from_tanh(tf.constant(w0), lo, hi).numpy()
        z = model(tf.constant(xb), training=False)
        already = is_adversarial(z, tf.constant(oh), targeted, tf.constant(kappa)).numpy()
        state = dict(w=w0, m=np.zeros_like(xb), v=np.zeros_like(xb),
                     t=np.zeros(n, np.float32), const=np.full(n, initial_const, np.float32),
                     step=np.zeros(n, np.int32), start=ref, mask=np.ones((*xb.shape[:-1], 1),
                                                                        np.float32),
                     best=ref, found=already, done=already.copy(), rounds=np.zeros(n, np.int32))
        fin = run_compacting(call, state, dict(x0=xb, oh=oh))
        adv = np.clip(xb + (fin["best"] - ref), lo, hi)
        z = model(tf.constant(adv), training=False)  # the success flag is the returned image's
        found = fin["found"] & is_adversarial(z, tf.constant(oh), targeted,
                                              tf.constant(kappa)).numpy()
        out[sl] = np.where(found[:, None, None, None], adv, xb)
        success[sl] = found
        rounds[sl] = fin["rounds"]
    return out, success, {"mean_rounds": float(rounds.mean()) if len(rounds) else 0.0}
