from __future__ import annotations

import numpy as np
import pytest

from bench.cache import DamagedEntry, ModelCache, cache_key, file_sha256
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
    with pytest.raises(DamagedEntry, match=r"checksum mismatch \(recorded \w+\.\.\., found "
                                           r"\w+\.\.\.\)$"):
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
    assert str(exc.value) == f"{path}: {message}"


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
                              "this key (an entry copied from elsewhere?)")


def test_material_other_than_asked_for_is_refused(tmp_path):
    cache = ModelCache(tmp_path)
    key = cache_key(MATERIAL)
    path = cache.save(key, tiny_model(), MATERIAL)
    with pytest.raises(CacheError) as exc:
        cache.load(key, {**MATERIAL, "seed": 2})
    assert str(exc.value) == (f"{path}: recorded for a different configuration than the one "
                              "asked for")
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


# ---- the trainer: damaged entries are moved aside and rebuilt; one trainer per key ----------


class DenseModel:
    """A model plugin for HostTrainer: a dense layer, ``fit`` optionally slow (to overlap)."""

    name = "dense"

    def __init__(self, fit_seconds: float = 0.0) -> None:
        self.fit_seconds = fit_seconds

    def training_key(self):
        return {"epochs": 1}

    def epochs(self):
        return 1

    def build(self, input_shape, num_classes, seed):
        import keras

        keras.utils.set_random_seed(seed)
        return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(num_classes)])

    def fit(self, model, x, targets, temperature, seed, callbacks=()):
        import time

        time.sleep(self.fit_seconds)
        return {"loss": [0.0]}


class Console:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def print(self, text, **_):
        self.lines.append(text)


class Progress:
    def __init__(self) -> None:
        self.console = Console()

    def log(self, message):
        pass

    def keras_callback(self, label, epochs):
        return None


def host_trainer(root, fit_seconds: float = 0.0):
    from bench.interfaces import DataSplit
    from bench.training import HostTrainer

    x = np.zeros((6, 4), np.float32)
    data = DataSplit(x, np.arange(6) % 3, 3, ("a", "b", "c"), "fake")
    return HostTrainer(DenseModel(fit_seconds), "1", data, ModelCache(root), 0, Progress())


def test_a_damaged_entry_is_moved_aside_and_trained_again(tmp_path):
    trainer = host_trainer(tmp_path)
    trainer.train(np.zeros((6, 3), np.float32), 1.0, {"role": "model"})
    key = trainer.records[0]["key"]
    path, meta_path = trainer.cache._paths(key)
    with path.open("ab") as f:
        f.write(b"tampered")
    again = host_trainer(tmp_path)
    model = again.train(np.zeros((6, 3), np.float32), 1.0, {"role": "model"})
    assert again.records[0]["cached"] is False and model is not None
    [warning] = again.progress.console.lines
    assert warning.startswith(f"warning: {path}: checksum mismatch (recorded ")
    assert warning.endswith(f"; moved aside to {path.name}.rejected and trained again")
    rejected = path.with_name(path.name + ".rejected")
    assert rejected.read_bytes().endswith(b"tampered")
    assert meta_path.with_name(meta_path.name + ".rejected").is_file()
    # the rebuilt entry is whole and loads
    assert ModelCache(tmp_path).load(key) is not None
    third = host_trainer(tmp_path)
    third.train(np.zeros((6, 3), np.float32), 1.0, {"role": "model"})
    assert third.records[0]["cached"] is True and not third.progress.console.lines


def _train_in_process(root: str, queue) -> None:
    trainer = host_trainer(root, fit_seconds=3.0)
    trainer.train(np.zeros((6, 3), np.float32), 1.0, {"role": "model"})
    queue.put(trainer.records[0]["cached"])


def test_two_processes_needing_the_same_network_train_it_once(tmp_path):
    """Real processes: the second waits on the key's lock, then loads what the first saved."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_train_in_process, args=(str(tmp_path), queue))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
        assert proc.exitcode == 0
    assert sorted([queue.get(timeout=10), queue.get(timeout=10)]) == [False, True]
    assert len(list(tmp_path.rglob("*.keras"))) == 1


def test_an_unwritable_cache_keeps_networks_in_memory_and_warns_once(tmp_path):
    """HostTrainer's fallback: a file where the cache should be; two networks, one warning,
    and a second request for the first network is served from memory (not trained again)."""
    root = tmp_path / "cachefile"
    root.write_text("not a directory")
    trainer = host_trainer(root)
    targets = np.zeros((6, 3), np.float32)
    first = trainer.train(targets, 1.0, {"role": "model"})
    trainer.train(targets, 10.0, {"role": "teacher"})
    again = trainer.train(targets, 1.0, {"role": "model"})
    assert again is first
    assert [r["cached"] for r in trainer.records] == [False, False, True]
    assert trainer.progress.console.lines == [
        f"warning: cannot write the model cache {root}: Not a directory; trained models are "
        "kept in memory for this run"]
    assert root.read_text() == "not a directory"
