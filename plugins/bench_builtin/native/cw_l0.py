"""Carlini & Wagner's L0 attack (2017), written from the paper, compiled and batched.

Repeatedly run an L2 attack restricted to the pixels still allowed to change (``mask``), warm
started from the previous solution, doubling ``c`` (carried over between rounds) until it
succeeds or passes ``largest_const``. After each success, rank the allowed pixels by
``|delta| * |gradient of the objective|`` (summed over channels) and freeze the least useful:
in that order, until one with a total change above 0.01 has been frozen or
``0.3 * sqrt(#changed pixels)`` have been. A sample ends when its L2 attack fails; the answer is
its last solution. Every sample has its own mask and ``c``; a round advances all the samples
still running together, and finished samples leave the batch.
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
from bench_builtin.native.runtime import batches, compiled, image_spec, onehot, run_compacting


def _build(model: Any, x_spec: tf.TensorSpec, k: int, targeted: bool):
    s = tf.TensorSpec([], tf.float32)
    vec = tf.TensorSpec([None], tf.float32)
    mask_spec = tf.TensorSpec([None, *x_spec.shape[1:-1], 1], tf.float32)
    specs = [x_spec, x_spec, mask_spec, tf.TensorSpec([None, k], tf.float32),  # x0 start mask oh
             x_spec, x_spec, x_spec, vec, vec, tf.TensorSpec([None], tf.int32),  # w m v t c step
             x_spec, x_spec, tf.TensorSpec([None], tf.bool), tf.TensorSpec([None], tf.bool),
             s, tf.TensorSpec([], tf.int32), s, s, s, s, tf.TensorSpec([], tf.int32), s]

    @tf.function(input_signature=specs)
    def chunk(x0, start, mask, oh, w, m, v, t, const, step, sol, grad, works, done,
              lr, iterations, factor, largest, lo, hi, n_steps, kappa):
        ref = from_tanh(to_tanh(x0, lo, hi), lo, hi)
        for _ in tf.range(n_steps):
            if tf.reduce_all(done):
                break
            with tf.GradientTape() as tape:
                tape.watch(w)
                img0 = from_tanh(w, lo, hi)
                tape.watch(img0)
                img = img0 * mask + ref * (1.0 - mask)
                z = model(img, training=False)
                f = cw_margin(z, oh, targeted, kappa)
                loss = const * f + tf.reduce_sum(tf.square(img - ref), axis=[1, 2, 3])
                total = tf.reduce_sum(loss)
            g_w, g_img = tape.gradient(total, [w, img0])
            ok = (f < 1e-4) & is_adversarial(z, oh, targeted, kappa) & ~done
            sol = tf.where(per_sample(ok, img), img, sol)
            grad = tf.where(per_sample(ok, img), g_img, grad)
            works = works | ok
            step1 = step + 1
            exhausted = ~ok & ~done & (step1 >= iterations)
            const = tf.where(exhausted, const * factor, const)
            done = done | ok | (exhausted & (const >= largest))
            w, m, v, t = adam_step(w, g_w, m, v, t, lr, ~exhausted & ~done)
            r = per_sample(exhausted, w)
            w = tf.where(r, to_tanh(start, lo, hi), w)
            m = tf.where(r, tf.zeros_like(m), m)
            v = tf.where(r, tf.zeros_like(v), v)
            t = tf.where(exhausted, tf.zeros_like(t), t)
            step = tf.where(exhausted, tf.zeros_like(step), step1)
        return dict(w=w, m=m, v=v, t=t, const=const, step=step, sol=sol, grad=grad,
                    works=works, done=done)

    return chunk


ORDER = ("x0", "start", "mask", "oh", "w", "m", "v", "t", "const", "step", "sol", "grad",
         "works", "done")


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
    max_rounds: int | None = None,
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
    rounds_used = 0
    n_pix = int(np.prod(x.shape[1:-1]))
    for sl in batches(len(x), batch_size):
        xb, oh = x[sl], oh_all[sl]
        n = len(xb)
        ref = from_tanh(to_tanh(tf.constant(xb), lo, hi), lo, hi).numpy()
        z = model(tf.constant(xb), training=False)
        already = is_adversarial(z, tf.constant(oh), targeted, tf.constant(kappa)).numpy()
        mask = np.ones((n, *xb.shape[1:-1], 1), np.float32)
        start = ref.copy()
        best = ref.copy()
        const = np.full(n, initial_const, np.float32)
        found = already.copy()
        alive = ~already
        for _ in range(max_rounds or n_pix + 1):
            idx = np.flatnonzero(alive)
            if idx.size == 0:
                break
            rounds_used += 1
            s0 = start[idx]
            state = dict(w=to_tanh(tf.constant(s0), lo, hi).numpy(), m=np.zeros_like(s0),
                         v=np.zeros_like(s0), t=np.zeros(idx.size, np.float32),
                         const=const[idx], step=np.zeros(idx.size, np.int32), sol=s0,
                         grad=np.zeros_like(s0), works=np.zeros(idx.size, bool),
                         done=np.zeros(idx.size, bool))
            fin = run_compacting(call, state, dict(x0=xb[idx], start=s0, mask=mask[idx],
                                                   oh=oh[idx]))
            ok = fin["works"]
            alive[idx[~ok]] = False
            won = idx[ok]
            if won.size == 0:
                continue
            found[won] = True
            const[won] = fin["const"][ok]
            sol = fin["sol"][ok]
            best[won] = sol
            start[won] = sol
            delta = np.abs(sol - ref[won])
            n_changed = (delta.max(axis=-1) >= 1e-4).reshape(len(won), -1).sum(axis=1)
            change = (delta * np.abs(fin["grad"][ok])).sum(axis=-1).reshape(len(won), -1)
            new_mask = freeze_least_useful(mask[won].reshape(len(won), -1), change, n_changed)
            mask[won] = new_mask.reshape(mask[won].shape)
            alive[won[new_mask.sum(axis=1) == 0]] = False
        out[sl] = np.where(found[:, None, None, None], np.clip(xb + (best - ref), lo, hi), xb)
        success[sl] = found
    return out, success, {"rounds": rounds_used}
