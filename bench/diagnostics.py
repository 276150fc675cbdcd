"""Per-row evaluation diagnostics: the raw evidence behind the gradient-masking flags.

Computed on the clean evaluation samples of each deployed model (Carlini et al. 2019,
"On Evaluating Adversarial Robustness"; Athalye et al. 2018):

- the fraction of samples whose cross-entropy loss gradient w.r.t. the input is exactly zero,
  or not finite (ART silently replaces NaN gradients by zero, so we compute them ourselves);
- the scale of the logits (median over samples of max |z|);
- the fraction of samples whose float32 softmax is exactly one-hot (saturation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: diagnostics look at no more than this many samples
MAX_SAMPLES = 1000


def row_diagnostics(model: Any, x: np.ndarray, y: np.ndarray, logits: np.ndarray,
                    batch_size: int = 256) -> dict[str, Any]:
    import tensorflow as tf

    x, y, logits = x[:MAX_SAMPLES], y[:MAX_SAMPLES], logits[:MAX_SAMPLES]
    zero = nonfinite = 0
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    for i in range(0, len(x), batch_size):
        xb = tf.convert_to_tensor(x[i : i + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(xb)
            loss = loss_fn(y[i : i + batch_size], model(xb, training=False))
        grad = tape.gradient(loss, xb).numpy().reshape(len(xb), -1)
        finite = np.isfinite(grad).all(axis=1)
        nonfinite += int((~finite).sum())
        zero += int((finite & (grad == 0).all(axis=1)).sum())
    probs = tf.nn.softmax(tf.convert_to_tensor(logits, tf.float32)).numpy()
    n = max(len(x), 1)
    return {
        "samples": len(x),
        "grad_zero_fraction": zero / n,
        "grad_nonfinite_fraction": nonfinite / n,
        "logit_scale_median": float(np.median(np.abs(logits).max(axis=1))) if len(x) else None,
        "softmax_saturated_fraction": float((probs.max(axis=1) == 1.0).mean()) if len(x) else None,
    }
