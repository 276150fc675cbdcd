"""The cache key of a trained network, through HostTrainer: everything that determines the
weights changes it, nothing else does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from bench_builtin.models.cnn import Cnn

from bench.cache import cache_key
from bench.interfaces import DataSplit
from bench.training import HostTrainer

X = np.linspace(0, 1, 6 * 16 * 16, dtype=np.float32).reshape(6, 16, 16, 1)
Y = np.array([0, 1, 2, 0, 1, 2])


class NoTrainCnn(Cnn):
    """The real plugin's parameters and training key; no network built or trained."""

    def build(self, input_shape: tuple[int, ...], num_classes: int, seed: int) -> Any:
        return object()

    def fit(self, model: Any, x: np.ndarray, targets: np.ndarray, temperature: float,
            seed: int, callbacks: Any = ()) -> dict[str, list[float]]:
        return {"loss": [0.0]}


class FakeCache:
    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    def has(self, key: str) -> bool:
        return False

    def save(self, key: str, model: Any, material: dict[str, Any], **extra: Any) -> None:
        self.saved[key] = material

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        yield


class Quiet:
    def log(self, message: str) -> None:
        pass

    def keras_callback(self, description: str, epochs: int) -> None:
        return None


def key(params: dict[str, Any] | None = None, *, version: str = "1.0.0", seed: int = 0,
        x: np.ndarray = X, y: np.ndarray = Y, temperature: float = 1.0,
        role: dict[str, Any] | None = None, num_classes: int = 3) -> str:
    cache = FakeCache()
    data = DataSplit(x, y, num_classes, tuple("abcdefgh"[:num_classes]), "fake")
    trainer = HostTrainer(NoTrainCnn(Cnn.Params(**(params or {}))), version, data, cache, seed,
                          Quiet())  # type: ignore[arg-type]
    model = trainer.train(trainer.one_hot(y), temperature, role or {"labels": "hard"})
    [(k, material)] = cache.saved.items()
    assert k == trainer.key_of(model) == cache_key(material) == trainer.records[0]["key"]
    return k


@pytest.fixture(scope="module")
def base() -> str:
    return key()


OTHER_X = X.copy()
OTHER_X[0, 0, 0, 0] = 0.5


@pytest.mark.parametrize("change", [
    {"params": {"epochs": 49}},
    {"params": {"learning_rate": 0.001}},
    {"params": {"optimizer": "adam"}},
    {"params": {"dropout": 0.25}},
    {"params": {"momentum": 0.9}},
    {"params": {"batch_size": 64}},
    {"seed": 1},
    {"temperature": 100.0},
    {"role": {"labels": "soft", "teacher": "abc"}},
    {"role": {"labels": "soft", "teacher": "abd"}},
    {"x": OTHER_X},
    {"y": np.array([0, 1, 2, 0, 1, 1])},
    {"version": "1.0.1"},
    {"num_classes": 4},
], ids=["epochs", "learning_rate", "optimizer", "dropout", "momentum", "batch_size", "seed",
        "temperature", "role", "teacher", "images", "labels", "version", "num_classes"])
def test_key_changes_with_what_determines_the_weights(change, base):
    assert key(**change) != base


def test_key_is_stable_and_ignores_defaults_spelt_out(base):
    assert key() == base
    assert key({"epochs": 50, "optimizer": "sgd", "learning_rate": 0.01}) == base
    assert key(role={"labels": "soft", "teacher": "abc"}, temperature=100) == key(
        role={"labels": "soft", "teacher": "abc"}, temperature=100.0)


def test_material_records_everything_it_hashes():
    cache = FakeCache()
    data = DataSplit(X, Y, 3, ("a", "b", "c"), "fake")
    trainer = HostTrainer(NoTrainCnn(Cnn.Params(epochs=3)), "1.0.0", data, cache, 7,
                          Quiet())  # type: ignore[arg-type]
    trainer.train(trainer.one_hot(Y), 10.0, {"labels": "hard"})
    [material] = cache.saved.values()
    assert material == {
        "model": "cnn", "model_version": "1.0.0",
        "training": {"epochs": 3, "optimizer": "sgd", "batch_size": 128, "learning_rate": 0.01,
                     "momentum": 0.5, "dropout": 0.5},
        "input_shape": [16, 16, 1], "num_classes": 3, "data": data.fingerprint(), "seed": 7,
        "role": {"labels": "hard"}, "temperature": 10.0,
    }
    assert trainer.records[0]["temperature"] == 10.0 and trainer.records[0]["cached"] is False


class HitCache(FakeCache):
    """Keeps what it saves; a second train() with the same key loads it."""

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[str, Any] = {}
        self.loads: list[tuple[str, Any]] = []

    def has(self, key: str) -> bool:
        return key in self.models

    def save(self, key: str, model: Any, material: dict[str, Any], **extra: Any) -> None:
        super().save(key, model, material)
        self.models[key] = model

    def load(self, key: str, material: Any = None) -> Any:
        self.loads.append((key, material))
        return self.models[key]


def test_same_key_loads_the_cached_network():
    cache = HitCache()
    data = DataSplit(X, Y, 3, ("a", "b", "c"), "fake")
    trainer = HostTrainer(NoTrainCnn(Cnn.Params()), "1.0.0", data, cache, 0,
                          Quiet())  # type: ignore[arg-type]
    first = trainer.train(trainer.one_hot(Y), 10.0, {"labels": "hard"})
    again = trainer.train(trainer.one_hot(Y), 10.0, {"labels": "hard"})
    [(key, material)] = cache.saved.items()
    assert again is first and cache.loads == [(key, material)]
    assert [(r["key"], r["cached"], r["temperature"]) for r in trainer.records] == [
        (key, False, 10.0), (key, True, 10.0)]
    assert all(isinstance(r["seconds"], float) and r["seconds"] >= 0 for r in trainer.records)
    assert trainer.key_of(again) == key


class RecordingCnn(NoTrainCnn):
    """Records what the host hands to build() and fit()."""

    calls: list[tuple[str, tuple[Any, ...]]]

    def build(self, input_shape: tuple[int, ...], num_classes: int, seed: int) -> Any:
        self.calls = [("build", (input_shape, num_classes, seed))]
        return "net"

    def fit(self, model: Any, x: np.ndarray, targets: np.ndarray, temperature: float,
            seed: int, callbacks: Any = ()) -> dict[str, list[float]]:
        self.calls.append(("fit", (model, x, targets, temperature, seed, list(callbacks))))
        return {"loss": [0.5, 0.25]}


class SavingCache(FakeCache):
    def save(self, key: str, model: Any, material: dict[str, Any], **extra: Any) -> None:
        super().save(key, model, material)
        self.extra = extra


def test_build_and_fit_get_the_data_targets_temperature_and_seed(monkeypatch):
    import bench.training

    ticks = iter([10.0, 12.5, 13.0])
    monkeypatch.setattr(bench.training, "perf_counter", lambda: next(ticks))
    plugin = RecordingCnn(Cnn.Params())
    cache = SavingCache()
    data = DataSplit(X, Y, 3, ("a", "b", "c"), "fake")
    progress = Quiet()
    trainer = HostTrainer(plugin, "1.0.0", data, cache, 5, progress)  # type: ignore[arg-type]
    soft = np.full((6, 3), 1 / 3, np.float32)
    assert trainer.train(soft, 20.0, {"labels": "soft", "teacher": "k"}) == "net"
    [build, fit] = plugin.calls
    assert build == ("build", ((16, 16, 1), 3, 5))
    model, x, targets, temperature, seed, callbacks = fit[1]
    assert (model, temperature, seed, callbacks) == ("net", 20.0, 5, [None])
    assert x is data.x and targets is soft
    assert cache.extra == {"train_seconds": 2.5, "history": {"loss": [0.5, 0.25]}}
    assert trainer.records == [{"key": trainer.key_of("net"),
                                "role": {"labels": "soft", "teacher": "k"},
                                "temperature": 20.0, "seconds": 3.0, "cached": False}]


def test_key_is_the_sha256_of_compact_sorted_json():
    """Pinned: changing the canonical form would orphan every cached network."""
    import hashlib
    from pathlib import Path

    blob = '{"data":"x/y","model":"cnn","seed":0}'
    assert cache_key({"seed": 0, "model": "cnn", "data": Path("x/y")}) == hashlib.sha256(
        blob.encode()).hexdigest()
