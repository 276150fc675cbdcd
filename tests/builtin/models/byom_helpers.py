"""Helpers for the bring-your-own-model tests: a user's small Keras network."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class UserNet:
    path: Path  # the saved .keras file
    sha256: str
    x_test: np.ndarray
    y_test: np.ndarray


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def small_net(softmax: bool = False, seed: int = 0):
    """conv 8 (stride 2), dense 10: logits, or probabilities with ``softmax``."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax" if softmax else None, name="out"),
    ])
