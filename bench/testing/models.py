"""The kit's tiny network: a model plugin (``TinyNet``, for ``check_defense``) and the trained
logits model of the ``bench_tiny_model`` fixture, built once and cached on disk by content."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from bench.batches import BatchTransform, fit_with_transform
from bench.interfaces import Model, Params
from bench.testing.data import tiny_data


class TinyNetParams(Params):
    epochs: int = Field(default=20, gt=0)
    learning_rate: float = Field(default=3e-3, gt=0)
    batch_size: int = Field(default=32, gt=0)
    filters: int = Field(default=16, gt=0)


class TinyNet(Model):
    """Two strided 3x3 convolutions (16 and 32 filters, ReLU) and a dense logits layer: about
    16,000 weights, trained with Adam in about 2 s on 300 digits. Any input of at least 7x7."""

    name = "tiny-net"
    version = "1.0.0"
    description = "bench.testing's tiny CNN (logits): two strided convolutions, one dense layer"
    Params = TinyNetParams

    def build(self, input_shape: tuple[int, ...], num_classes: int, seed: int) -> Any:
        import keras

        p: Any = self.params
        keras.utils.set_random_seed(seed)
        layers = keras.layers
        return keras.Sequential([
            keras.Input(shape=input_shape),
            layers.Conv2D(p.filters, 3, strides=2, activation="relu"),
            layers.Conv2D(2 * p.filters, 3, strides=2, activation="relu"),
            layers.Flatten(),
            layers.Dense(num_classes, name="logits"),
        ], name="tiny_net")

    def fit(self, model: Any, x: np.ndarray, targets: np.ndarray, temperature: float,
            seed: int, callbacks: Sequence[Any] = (),
            transform: BatchTransform | None = None) -> dict[str, list[float]]:
        import keras

        p: Any = self.params
        # eager steps without a transform: for a few steps of a network this small, tracing
        # a compiled step costs more than the training (about a second per network)
        return fit_with_transform(
            model, x, targets, transform=transform,
            optimizer=keras.optimizers.Adam(learning_rate=p.learning_rate),
            temperature=temperature, batch_size=p.batch_size, epochs=p.epochs, seed=seed,
            callbacks=callbacks, compiled=transform is not None)


#: trained networks of this process, by content key
_MEMO: dict[str, Any] = {}


def tiny_model_key() -> str:
    """Content key of the tiny model: recipe, data and Keras version."""
    import keras

    net = TinyNet()
    material = {"model": net.name, "version": net.version, "params": net.params.model_dump(),
                "data": tiny_data().train.fingerprint(), "seed": 0,
                "keras": keras.__version__}
    blob = json.dumps(material, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def tiny_model(cache_dir: Path | str | None = None) -> Any:
    """The tiny trained logits model (TinyNet on the 300 training digits, 20 epochs, seed 0).

    Trained once per process; with ``cache_dir``, saved there under its content key and loaded
    by later processes (sha256 of recipe, data and Keras version, so a change trains anew).
    """
    import keras

    key = tiny_model_key()
    if key in _MEMO:
        return _MEMO[key]
    path = Path(cache_dir) / f"tiny-net-{key[:24]}.keras" if cache_dir is not None else None
    model = None
    if path is not None and path.is_file():
        try:
            model = keras.models.load_model(path, compile=False, safe_mode=True)
        except Exception:  # a damaged file: train again and replace it
            model = None
    if model is None:
        model = _train_tiny()
        if path is not None:
            _save(model, path)
    _MEMO[key] = model
    return model


def _train_tiny() -> Any:
    """TinyNet with its default parameters, trained by Keras' compiled ``fit`` (200 steps: a
    compiled step pays for its tracing here)."""
    import keras

    data, net = tiny_data().train, TinyNet()
    p: Any = net.params
    model = net.build(data.input_shape, data.num_classes, 0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=p.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data.x, data.y, batch_size=p.batch_size, epochs=p.epochs, shuffle=True,
              verbose=0)
    return model


def _save(model: Any, path: Path) -> None:
    """Write under a temporary name, then rename: a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
