from __future__ import annotations

import numpy as np
import pytest

from bench.cache import ModelCache, cache_key
from bench.errors import CacheError


def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


def test_key_is_canonical_and_sensitive():
    a = cache_key({"model": "cnn", "training": {"epochs": 2, "lr": 0.01}, "seed": 0})
    b = cache_key({"seed": 0, "training": {"lr": 0.01, "epochs": 2}, "model": "cnn"})
    c = cache_key({"model": "cnn", "training": {"epochs": 3, "lr": 0.01}, "seed": 0})
    assert a == b and a != c and len(a) == 64


def test_roundtrip_preserves_weights(tmp_path):
    cache = ModelCache(tmp_path)
    model = tiny_model()
    key = cache_key({"k": 1})
    assert not cache.has(key)
    cache.save(key, model, {"k": 1}, train_seconds=1.5)
    assert cache.has(key)
    loaded = cache.load(key)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
    assert cache.meta(key)["train_seconds"] == 1.5
    assert cache.meta(key)["material"] == {"k": 1}


def test_tampered_file_is_refused(tmp_path):
    cache = ModelCache(tmp_path)
    key = cache_key({"k": 2})
    path = cache.save(key, tiny_model(), {"k": 2})
    with path.open("ab") as f:
        f.write(b"tampered")
    with pytest.raises(CacheError, match="checksum mismatch .* delete it to retrain"):
        cache.load(key)
