"""Carlini & Wagner's L-infinity attack (2017), written from the paper, compiled and batched.

Each sample runs its own copy of the paper's loop, as a state machine advanced in lock-step:
minimise ``c * f(x') + sum_i max(|x'_i - x_i| - tau, 0)`` with Adam in tanh space. When the loss
falls under ``1e-4 * c`` (and the example is adversarial) the iterate is kept, ``tau`` becomes
``min(tau, max_i |delta_i|) * decrease`` and the search restarts from that iterate (warm start).
When ``iterations`` steps pass without success, ``c`` is multiplied by ``const_factor`` and the
search restarts from the last solution; past ``largest_const``, or once ``tau <= 1/256``, the
sample is finished and its last solution is the answer. ``c`` is carried across tau steps.

Unlike ART 1.20.1's ``CarliniLInfMethod``, a targeted attack succeeds only when the prediction
*is* the target (ART accepts any prediction that differs from the target).
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

TAU_MIN = 1.0 / 256.0


def _build(model: Any, x_spec: tf.TensorSpec, k: int, targeted: bool):
    s = tf.TensorSpec([], tf.float32)
    vec = tf.TensorSpec([None], tf.float32)
    sig = dict(x0=x_spec, oh=tf.TensorSpec([None, k], tf.float32),
               w=x_spec, m=x_spec, v=x_spec, t=vec, tau=vec, const=vec,
               step=tf.TensorSpec([None], tf.int32), prev=x_spec,
               found=tf.TensorSpec([None], tf.bool), done=tf.TensorSpec([None], tf.bool))

    @tf.function(input_signature=[*sig.values(), s, tf.TensorSpec([], tf.int32), s, s, s, s, s,
                                  tf.TensorSpec([], tf.int32), s, s])
    def chunk(x0, oh, w, m, v, t, tau, const, step, prev, found, done,
              lr, iterations, decrease, factor, largest, lo, hi, n_steps, kappa, tau_min):
        ref = from_tanh(to_tanh(x0, lo, hi), lo, hi)
        for _ in tf.range(n_steps):
            if tf.reduce_all(done):
                break
            with tf.GradientTape() as tape:
                tape.watch(w)
                img = from_tanh(w, lo, hi)
                z = model(img, training=False)
                excess = tf.nn.relu(tf.abs(img - ref) - per_sample(tau, img))
                loss = const * cw_margin(z, oh, targeted, kappa) + tf.reduce_sum(
                    excess, axis=[1, 2, 3])
                total = tf.reduce_sum(loss)
            g = tape.gradient(total, w)
            works = (loss < 1e-4 * const) & is_adversarial(z, oh, targeted, kappa) & ~done
            actual = tf.reduce_max(tf.abs(img - ref), axis=[1, 2, 3])
            prev = tf.where(per_sample(works, img), img, prev)
            found = found | works
            tau = tf.where(works, tf.minimum(tau, actual) * decrease, tau)
            step1 = step + 1
            exhausted = ~works & ~done & (step1 >= iterations)
            const = tf.where(exhausted, const * factor, const)
            done = done | (works & (tau <= tau_min)) | (exhausted & (const >= largest))
            reset = works | exhausted
            w, m, v, t = adam_step(w, g, m, v, t, lr, ~reset & ~done)
            w, m, v, t, step = restart(reset, w, m, v, t, step, step1, prev, lo, hi)
        return dict(w=w, m=m, v=v, t=t, tau=tau, const=const, step=step, prev=prev,
                    found=found, done=done)

    return chunk


def cw_linf(
    model: Any, x: np.ndarray, labels: np.ndarray, num_classes: int, *, targeted: bool,
    kappa: float = 0.0, iterations: int = 1000, learning_rate: float = 5e-3,
    initial_const: float = 1e-5, largest_const: float = 20.0, const_factor: float = 2.0,
    decrease_factor: float = 0.9, clip_values: tuple[float, float] = (0.0, 1.0),
    batch_size: int = 256, chunk_steps: int = 50,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Run CW L-infinity. ``labels`` are targets when ``targeted`` else true labels."""
    x = np.asarray(x, np.float32)
    chunk = compiled(model, ("cw_linf", x.shape[1:], num_classes, targeted),
                     lambda: _build(model, image_spec(x), num_classes, targeted))
    oh = onehot(labels, num_classes)
    lo, hi = (float(c) for c in clip_values)
    hyper = [tf.constant(a, tf.float32) for a in (learning_rate,)]
    hyper += [tf.constant(iterations, tf.int32)]
    hyper += [tf.constant(a, tf.float32) for a in (decrease_factor, const_factor, largest_const,
                                                   lo, hi)]
    hyper += [tf.constant(chunk_steps, tf.int32), tf.constant(kappa, tf.float32),
              tf.constant(TAU_MIN, tf.float32)]
    out = x.copy()
    success = np.zeros(len(x), bool)
    tau_out = np.zeros(len(x), np.float32)
    for sl in batches(len(x), batch_size):
        xb = x[sl]
        n = len(xb)
        w0 = to_tanh(tf.constant(xb), lo, hi).numpy()
        ref = from_tanh(tf.constant(w0), lo, hi).numpy()
        state = dict(w=w0, m=np.zeros_like(xb), v=np.zeros_like(xb),
                     t=np.zeros(n, np.float32), tau=np.ones(n, np.float32),
                     const=np.full(n, initial_const, np.float32), step=np.zeros(n, np.int32),
                     prev=ref, found=np.zeros(n, bool), done=np.zeros(n, bool))
        final = run_compacting(lambda **kw: _call(chunk, kw, hyper), state,
                               dict(x0=xb, oh=oh[sl]))
        found = final["found"]
        out[sl] = np.where(found[:, None, None, None],
                           np.clip(xb + (final["prev"] - ref), lo, hi), xb)
        success[sl] = found
        tau_out[sl] = final["tau"]
    return out, success, {"tau": tau_out}


def _call(chunk: Any, kw: dict[str, tf.Tensor], hyper: list[tf.Tensor]) -> dict[str, tf.Tensor]:
    order = ("x0", "oh", "w", "m", "v", "t", "tau", "const", "step", "prev", "found", "done")
    return chunk(*(kw[k] for k in order), *hyper)
