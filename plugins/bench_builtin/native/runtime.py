"""Plumbing shared by the native attacks: per-model compiled functions, batching, compaction."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Callable[..., Any]]] = (
    weakref.WeakKeyDictionary()
)


def compiled(model: Any, key: tuple[Any, ...], build: Callable[[], Callable[..., Any]]) -> Any:
    """The compiled function ``build()`` for ``model`` and ``key``, built once per model."""
    per_model = _CACHE.setdefault(model, {})
    if key not in per_model:
        per_model[key] = build()
    return per_model[key]


def batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def onehot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


def image_spec(x: np.ndarray) -> tf.TensorSpec:
    return tf.TensorSpec([None, *x.shape[1:]], tf.float32)


def run_compacting(
    chunk: Callable[..., dict[str, tf.Tensor]],
    state: dict[str, np.ndarray],
    fixed: dict[str, np.ndarray],
    max_chunks: int = 1_000_000,
) -> dict[str, np.ndarray]:
    """Run a per-sample state machine until every sample is ``done``.

    ``chunk(**fixed, **state)`` advances all samples together for a bounded number of compiled
    iterations and returns the new state. Between chunks, finished samples are written back and
    dropped from the batch, so that they stop costing work (a batch-level gather, not a Python
    loop over samples). ``state`` must hold a boolean ``done``.
    """
    final = {k: np.array(v, copy=True) for k, v in state.items()}
    idx = np.flatnonzero(~final["done"])
    cur = {k: v[idx] for k, v in final.items()}
    fix = {k: v[idx] for k, v in fixed.items()}
    for _ in range(max_chunks):
        if idx.size == 0:
            break
        out = chunk(**{k: tf.constant(v) for k, v in fix.items()},
                    **{k: tf.constant(v) for k, v in cur.items()})
        cur = {k: out[k].numpy() for k in cur}
        fin = cur["done"]
        if fin.any():
            for k in final:
                final[k][idx[fin]] = cur[k][fin]
            keep = ~fin
            idx = idx[keep]
            cur = {k: v[keep] for k, v in cur.items()}
            fix = {k: v[keep] for k, v in fix.items()}
    for k in final:  # anything left when max_chunks ran out
        final[k][idx] = cur[k]
    return final
