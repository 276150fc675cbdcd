"""Training shared by the built-in model plugins: the temperature cross-entropy, the optimizer
and one ``fit`` (Keras' own loop, or :func:`bench.batches.fit_with_transform` when a defense
hands a per-batch transform)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from bench.batches import BatchTransform, fit_with_transform
from bench.interfaces import Model, Params


class TrainingParams(Params):
    """How a user's network is trained when a defense (or the ``python`` model) trains it."""

    epochs: int = Field(default=10, gt=0)
    optimizer: Literal["sgd", "adam"] = "adam"
    learning_rate: float = Field(default=0.001, gt=0)
    #: SGD's momentum (ignored by Adam)
    momentum: float = Field(default=0.0, ge=0, lt=1)
    batch_size: int = Field(default=128, gt=0)


@functools.cache
def temperature_loss_class() -> Any:
    import keras

    @keras.saving.register_keras_serializable(package="artbench")
    class TemperatureCrossEntropy(keras.losses.Loss):
        """Cross-entropy between target probabilities and softmax(logits / T)."""

        def __init__(self, temperature: float = 1.0, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.temperature = float(temperature)

        def call(self, y_true: Any, y_pred: Any) -> Any:
            return keras.losses.categorical_crossentropy(
                y_true, y_pred / self.temperature, from_logits=True
            )

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "temperature": self.temperature}

    return TemperatureCrossEntropy


def make_optimizer(optimizer: str, learning_rate: float, momentum: float) -> Any:
    import keras

    if optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)


def fit_logits(
    model: Any,
    x: np.ndarray,
    targets: np.ndarray,
    temperature: float,
    seed: int,
    *,
    optimizer: str,
    learning_rate: float,
    momentum: float,
    batch_size: int,
    epochs: int,
    callbacks: Sequence[Any] = (),
    transform: BatchTransform | None = None,
) -> dict[str, list[float]]:
    """Train a logits network in place on probability ``targets`` at ``temperature``."""
    import keras

    keras.utils.set_random_seed(seed)
    opt = make_optimizer(optimizer, learning_rate, momentum)
    if transform is not None:
        return fit_with_transform(model, x, targets, transform=transform, optimizer=opt,
                                  temperature=temperature, batch_size=batch_size,
                                  epochs=epochs, seed=seed, callbacks=callbacks)
    model.compile(optimizer=opt, loss=temperature_loss_class()(temperature), jit_compile=False)
    history = model.fit(x, targets, batch_size=batch_size, epochs=epochs, shuffle=True,
                        verbose=0, callbacks=list(callbacks))
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


class FitsLogits(Model):
    """A model plugin trained by :func:`fit_logits` with its parameters ``optimizer``,
    ``learning_rate``, ``momentum``, ``batch_size`` and ``epochs``."""

    def fit(self, model: Any, x: np.ndarray, targets: np.ndarray, temperature: float, seed: int,
            callbacks: Sequence[Any] = (),
            transform: BatchTransform | None = None) -> dict[str, list[float]]:
        p: Any = self.params
        return fit_logits(model, x, targets, temperature, seed, optimizer=p.optimizer,
                          learning_rate=p.learning_rate, momentum=p.momentum,
                          batch_size=p.batch_size, epochs=p.epochs, callbacks=callbacks,
                          transform=transform)
