"""The reference study's CNN (their Table 2; Papernot et al. 2016 / Carlini & Wagner 2017).

conv 32, conv 32, max-pool, conv 64, conv 64, max-pool (3x3 ReLU convolutions, unpadded),
dense 200, dense 200 (ReLU, dropout 0.5), dense K **logits**. Trained with their Table 3
settings by default: SGD, learning rate 0.01, momentum 0.5, batch 128.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import Field

from bench.errors import ConfigError
from bench.interfaces import Params
from bench_builtin.models.fitting import FitsLogits


class CnnParams(Params):
    epochs: int = Field(default=50, gt=0)
    #: "sgd" is the study's (lr 0.01, momentum 0.5). "adam" is invariant to the 1/T shrink of
    #: the loss gradient at temperature T, so distilled networks train in few epochs.
    optimizer: Literal["sgd", "adam"] = "sgd"
    batch_size: int = Field(default=128, gt=0)
    learning_rate: float = Field(default=0.01, gt=0)
    momentum: float = Field(default=0.5, ge=0, lt=1)
    dropout: float = Field(default=0.5, ge=0, lt=1)


class Cnn(FitsLogits):
    name = "cnn"
    version = "1.0.0"
    description = "Reference CNN of Papernot et al. 2016 / the study's Table 2, logits output"
    Params = CnnParams

    def build(self, input_shape: tuple[int, ...], num_classes: int, seed: int) -> Any:
        import keras

        h, w = input_shape[0], input_shape[1]
        if h < 16 or w < 16:
            raise ConfigError(
                f"model cnn: input {h}x{w} is too small for four unpadded 3x3 convolutions and "
                "two 2x2 pools (needs at least 16x16)"
            )
        keras.utils.set_random_seed(seed)
        p = cast(CnnParams, self.params)
        layers = keras.layers
        return keras.Sequential(
            [
                keras.Input(shape=input_shape),
                layers.Conv2D(32, 3, activation="relu"),
                layers.Conv2D(32, 3, activation="relu"),
                layers.MaxPooling2D(2),
                layers.Conv2D(64, 3, activation="relu"),
                layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dense(200, activation="relu"),
                layers.Dropout(p.dropout),
                layers.Dense(200, activation="relu"),
                layers.Dropout(p.dropout),
                layers.Dense(num_classes, name="logits"),
            ],
            name="cnn",
        )

