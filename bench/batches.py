"""Per-batch transforms in training (adversarial training, augmentation, mixup) and a compiled
training loop that applies them.

A defense hands a :class:`BatchTransform` to :meth:`bench.interfaces.Trainer.train`; the model
plugin's ``fit`` applies it to every batch just before the step (``fit_with_transform`` does it
for any Keras network). The transform's class, version and fields are part of the network's
cache key, so changing one of its parameters trains a new network.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


class BatchTransform:
    """Changes one training batch before the step. Subclass it as a frozen dataclass::

        @dataclasses.dataclass(frozen=True)
        class Noise(BatchTransform):
            sigma: float = 0.1

            def __call__(self, model, x, targets):
                return x + tf.random.normal(tf.shape(x), stddev=self.sigma), targets

    ``__call__`` gets the network being trained (to attack it, for adversarial training), a batch
    of images and their target probabilities as tensors, and returns the batch to train on. It is
    traced into the compiled training step: write it with TensorFlow operations.
    """

    #: bump when ``__call__`` changes what it computes: cached networks are then trained again
    version: ClassVar[str] = "1"

    def __call__(self, model: keras.Model, x: tf.Tensor,
                 targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        raise NotImplementedError

    def cache_material(self) -> dict[str, Any]:
        """What identifies the transform in a cache key: class path, version and fields."""
        if not dataclasses.is_dataclass(self):
            raise TypeError(f"{type(self).__qualname__}: a BatchTransform must be a dataclass "
                            "(its fields are its cache key)")
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}",
                "version": self.version, "fields": dataclasses.asdict(self)}


def fit_with_transform(
    model: keras.Model,
    x: np.ndarray,
    targets: np.ndarray,
    *,
    transform: BatchTransform | None,
    optimizer: keras.optimizers.Optimizer,
    temperature: float,
    batch_size: int,
    epochs: int,
    seed: int,
    callbacks: Sequence[Any] = (),
    compiled: bool = True,
) -> dict[str, list[float]]:
    """Train ``model`` in place on ``transform``-ed batches (None: as they are): one step
    (transform, forward, temperature cross-entropy, update) per batch, shuffled per epoch with
    ``seed``; ``compiled`` traces the step once (off: eager steps, cheaper for a few steps of a
    tiny network). Keras callbacks get ``on_train_begin``, ``on_epoch_end`` (with the mean loss)
    and ``on_train_end``. Returns ``{"loss": [per-epoch mean]}``."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    t = float(temperature)
    optimizer.build(model.trainable_variables)

    def step(xb: tf.Tensor, yb: tf.Tensor) -> tf.Tensor:
        if transform is not None:
            xb, yb = transform(model, xb, yb)
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(
                yb, logits / t, from_logits=True))
            if model.losses:
                loss += tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    if compiled:
        step = tf.function(step, reduce_retracing=True)
    for cb in callbacks:
        cb.set_model(model)
        cb.on_train_begin()
    rng = np.random.default_rng(seed)
    history: list[float] = []
    x = np.asarray(x, np.float32)
    targets = np.asarray(targets, np.float32)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            losses.append(float(step(tf.constant(x[idx]), tf.constant(targets[idx]))))
        history.append(float(np.mean(losses)) if losses else float("nan"))
        for cb in callbacks:
            cb.on_epoch_end(epoch, {"loss": history[-1]})
    for cb in callbacks:
        cb.on_train_end()
    return {"loss": history}
