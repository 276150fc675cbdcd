"""The host's implementation of :class:`bench.interfaces.Trainer`: train or load from cache."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.batches import BatchTransform
from bench.cache import DamagedEntry, ModelCache, cache_key
from bench.errors import CacheError, ConfigError
from bench.interfaces import UNDEFENDED, DataSplit, Model, Trainer
from bench.progress import RunProgress, say
from bench.timing import perf_counter

if TYPE_CHECKING:
    import keras


def predict_logits(model: keras.Model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Forward pass in batches, returning float32 logits (no Keras progress output)."""
    import tensorflow as tf

    outs = [
        np.asarray(model(tf.convert_to_tensor(x[i : i + batch_size]), training=False))
        for i in range(0, len(x), batch_size)
    ]
    if not outs:
        return np.zeros((0, int(model.output_shape[-1])), np.float32)
    return np.concatenate(outs).astype(np.float32, copy=False)


class HostTrainer(Trainer):
    """Trains one architecture on one training split, caching every network it trains."""

    def __init__(
        self,
        model_plugin: Model,
        model_plugin_version: str,
        train_data: DataSplit,
        cache: ModelCache,
        seed: int,
        progress: RunProgress,
    ) -> None:
        self.model_plugin = model_plugin
        self.train_data = train_data
        self.cache = cache
        self.seed = seed
        self.progress = progress
        self._base = {
            "model": model_plugin.name,
            "model_version": model_plugin_version,
            "training": model_plugin.training_key(),
            "input_shape": list(train_data.input_shape),
            "num_classes": train_data.num_classes,
            "seed": seed,
        }
        self._keys: dict[int, str] = {}
        #: one record per network asked for: key, role, seconds, whether it came from cache
        self.records: list[dict[str, Any]] = []

    def one_hot(self, y: np.ndarray) -> np.ndarray:
        return np.eye(self.train_data.num_classes, dtype=np.float32)[y]

    def predict_logits(self, model: keras.Model, x: np.ndarray) -> np.ndarray:
        return predict_logits(model, x)

    def key_of(self, model: keras.Model) -> str:
        return self._keys[id(model)]

    def undefended(self) -> keras.Model:
        if self.model_plugin.pretrained():
            return self._pretrained()
        return self.train(self.one_hot(self.train_data.y), 1.0, UNDEFENDED)

    def _pretrained(self) -> keras.Model:
        """A pretrained model plugin's network as built: deployed as it is, never cached."""
        start = perf_counter()
        data = self.train_data
        model = self.model_plugin.build(data.input_shape, data.num_classes, self.seed)
        key = cache_key({**self._base, "role": UNDEFENDED, "pretrained": True})
        self._keys[id(model)] = key
        self.records.append({"key": key, "role": dict(UNDEFENDED), "temperature": 1.0,
                             "seconds": perf_counter() - start, "cached": True,
                             "pretrained": True})
        return model

    def train(self, targets: np.ndarray, temperature: float, role: dict[str, Any],
              transform: BatchTransform | None = None) -> keras.Model:
        data = self.train_data
        if len(targets) != len(data):
            raise ConfigError(f"trainer: {len(targets)} targets for {len(data)} training images")
        # the fingerprint of the data trained on now (a defense may have set other data)
        material = {**self._base, "data": data.fingerprint(), "role": role,
                    "temperature": float(temperature)}
        if transform is not None:
            material["transform"] = transform.cache_material()
        key = cache_key(material)
        label = ", ".join(f"{k}={v}" for k, v in role.items() if k != "teacher")
        start = perf_counter()
        with self.cache.lock(key):  # another process training this key: wait, then load it
            model = self._load(key, material)
            cached = model is not None
            if model is not None:
                self.progress.log(f"  cached  {self.model_plugin.name} ({label}, "
                                  f"T={temperature:g})")
            else:
                model = self._fit(key, material, targets, temperature, label, start, transform)
        self._keys[id(model)] = key
        self.records.append(
            {"key": key, "role": role, "temperature": float(temperature),
             "seconds": perf_counter() - start, "cached": cached}
        )
        return model

    def _load(self, key: str, material: dict[str, Any]) -> keras.Model | None:
        """The cached network, or None when there is none or it was damaged (then moved aside,
        with a warning: it is trained again, never loaded)."""
        if not self.cache.has(key):
            return None
        try:
            return self.cache.load(key, material)
        except DamagedEntry as exc:
            moved = self.cache.reject(key)
            say(self.progress.console, f"warning: {exc.path}: {exc.reason}; moved aside to "
                f"{moved.name} and trained again")
            return None

    def _fit(self, key: str, material: dict[str, Any], targets: np.ndarray, temperature: float,
             label: str, start: float, transform: BatchTransform | None) -> keras.Model:
        """Build and train the network of ``key``, then cache it (or keep it in memory)."""
        model = self.model_plugin.build(
            self.train_data.input_shape, self.train_data.num_classes, self.seed
        )
        bar = self.progress.keras_callback(
            f"train {self.model_plugin.name} ({label}, T={temperature:g})",
            self.model_plugin.epochs(),
        )
        extra = {} if transform is None else {"transform": transform}
        if transform is not None and "transform" not in inspect.signature(
                self.model_plugin.fit).parameters:
            raise ConfigError(f"model '{self.model_plugin.name}': its fit() takes no transform, "
                              "which this defense needs (see bench.batches.fit_with_transform)")
        history = self.model_plugin.fit(
            model, self.train_data.x, targets, temperature, self.seed, callbacks=[bar], **extra
        )
        seconds = perf_counter() - start
        try:
            self.cache.save(key, model, material, train_seconds=seconds, history=history)
        except CacheError as exc:  # keep the network for this run rather than lose it
            self.cache.keep(key, model)
            if not self.cache.warned:
                self.cache.warned = True
                say(self.progress.console,
                    f"warning: {exc}; trained models are kept in memory for this run")
        return model
