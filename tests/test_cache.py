from __future__ import annotations

import numpy as np
import pytest

from bench.cache import ModelCache, cache_key, file_sha256
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


def model_of(input_dim: int, classes: int):
    import keras

    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((input_dim,)), keras.layers.Dense(classes)])


def replace_entry(cache: ModelCache, key: str, model) -> None:
    """What a tamperer does: another valid model under ``key``, its sha256 updated."""
    import json

    path, meta_path = cache._paths(key)
    model.save(path)
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = file_sha256(path)
    meta_path.write_text(json.dumps(meta))


MATERIAL = {"model": "dense", "input_shape": [4], "num_classes": 3, "seed": 0}


@pytest.mark.parametrize(("other", "message"), [
    ((5, 3), "the cached network takes inputs of shape (5,), its key says (4,)"),
    ((4, 7), "the cached network outputs 7 classes, its key says 3"),
])
def test_a_different_model_under_the_key_is_refused(tmp_path, other, message):
    cache = ModelCache(tmp_path)
    key = cache_key(MATERIAL)
    path = cache.save(key, tiny_model(), MATERIAL)
    assert cache.load(key, MATERIAL) is not None
    replace_entry(cache, key, model_of(*other))
    with pytest.raises(CacheError) as exc:
        cache.load(key, MATERIAL)
    assert str(exc.value) == f"{path}: {message}; delete it to retrain"


def test_an_entry_copied_under_another_key_is_refused(tmp_path):
    """Both files of entry B copied over entry A: B's material does not hash to A's key."""
    import shutil

    cache = ModelCache(tmp_path)
    a, b = cache_key(MATERIAL), cache_key({**MATERIAL, "seed": 1})
    cache.save(a, tiny_model(), MATERIAL)
    cache.save(b, tiny_model(), {**MATERIAL, "seed": 1})
    for src, dst in zip(cache._paths(b), cache._paths(a), strict=True):
        shutil.copyfile(src, dst)
    with pytest.raises(CacheError) as exc:
        cache.load(a, MATERIAL)
    assert str(exc.value) == (f"{cache._paths(a)[0]}: the recorded material does not hash to "
                              "this key (an entry copied from elsewhere?); delete it to retrain")


def test_material_other_than_asked_for_is_refused(tmp_path):
    cache = ModelCache(tmp_path)
    key = cache_key(MATERIAL)
    path = cache.save(key, tiny_model(), MATERIAL)
    with pytest.raises(CacheError) as exc:
        cache.load(key, {**MATERIAL, "seed": 2})
    assert str(exc.value) == (f"{path}: recorded for a different configuration than the one "
                              "asked for; delete it to retrain")
    # tuples in the material read back as lists: still the same material
    assert cache.load(key, {**MATERIAL, "input_shape": (4,)}) is not None


def test_a_cache_that_is_a_file_cannot_be_written_and_models_are_kept(tmp_path):
    root = tmp_path / "cache"
    root.write_text("not a directory")
    cache = ModelCache(root)
    key = cache_key(MATERIAL)
    with pytest.raises(CacheError) as exc:
        cache.save(key, tiny_model(), MATERIAL)
    assert str(exc.value) == f"cannot write the model cache {root}: Not a directory"
    assert root.read_text() == "not a directory"
    assert not cache.has(key)
    model = tiny_model()
    cache.keep(key, model)
    assert cache.has(key) and cache.load(key, MATERIAL) is model
