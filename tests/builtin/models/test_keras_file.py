"""keras-file: a user's trained .keras network deployed as it is, pinned by its sha256."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import textwrap
from pathlib import Path

import numpy as np
import pytest
from bench_builtin.models.keras_file import KerasFile
from byom_helpers import UserNet, sha256_of, small_net

from bench.batches import BatchTransform
from bench.cli import main
from bench.errors import ConfigError

SUITE = """\
name: byom
dataset: {{name: digits, train: "train[:300]", test: test}}
models:
  - name: keras-file
    params: {{path: net.keras, sha256: {sha}{extra}}}
defenses:
{defenses}
attacks:
  - name: fgsm
    params: {{eps: 0.1}}
    samples: 20
evaluation: {{samples: 297, batch_size: 128, seed: 0}}
"""


def plugin(path: Path, **params) -> KerasFile:
    values = {"path": str(path), "sha256": sha256_of(path), **params}
    return KerasFile(KerasFile.Params.model_validate(values))


def run_suite(tmp_path: Path, net: UserNet, defenses: str, extra: str = "") -> tuple[int, Path]:
    """The suite in its own folder beside net.keras, run from another working directory."""
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "net.keras").write_bytes(net.path.read_bytes())
    suite = folder / "suite.yaml"
    suite.write_text(SUITE.format(sha=net.sha256, extra=extra,
                                  defenses=textwrap.indent(defenses, "  ")))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    store, cache = tmp_path / "store.sqlite", tmp_path / "cache"
    cwd = os.getcwd()
    os.chdir(elsewhere)  # the relative path is read from the suite's folder, not from here
    try:
        code = main(["run", str(suite), "--quiet", "--store", str(store),
                     "--cache-dir", str(cache)])
    finally:
        os.chdir(cwd)
    return code, store


def test_the_file_is_deployed_as_is_and_a_training_defense_is_refused(tmp_path, user_net):
    code, store = run_suite(tmp_path, user_net,
                            "- name: none\n- name: distillation\n  params: {temperature: 10}")
    assert code == 1  # the distillation row failed
    db = sqlite3.connect(store)
    rows = {r[0]: r[1:] for r in db.execute(
        "SELECT defense_id, status, error, clean_accuracy, training_json FROM rows")}
    # the clean accuracy stored is the file's own on all 297 test digits: nothing retrained
    import keras

    own = keras.saving.load_model(user_net.path, compile=False)
    expected = float((np.asarray(own(user_net.x_test)).argmax(1) == user_net.y_test).mean())
    status, error, clean, training = rows["none"]
    assert (status, error) == ("ok", None)
    assert clean == pytest.approx(expected, abs=1e-9)
    assert 0.3 < clean < 1.0  # a real, one-epoch network
    [record] = json.loads(training)
    assert record["pretrained"] is True
    assert not list((tmp_path / "cache").rglob("*.keras"))  # never cached
    assert rows["distillation"][:2] == (
        "failed", "training/defense failed: model keras-file: the weights of net.keras are "
        "fixed, but this row's defense trains networks: set on_training: fine-tune (start from "
        "the file's weights) or from-scratch (its architecture, fresh weights)")
    fgsm = db.execute("SELECT status FROM cells WHERE row_id LIKE '%defense=none'").fetchone()
    assert fgsm == ("ok",)


def test_the_cache_key_follows_the_content_not_the_path(tmp_path, user_net):
    moved = tmp_path / "elsewhere.keras"
    moved.write_bytes(user_net.path.read_bytes())
    assert plugin(moved).training_key() == plugin(user_net.path).training_key()
    assert plugin(moved).training_key()["sha256"] == user_net.sha256
    assert "path" not in plugin(moved).training_key()


def test_a_file_changed_after_validation_is_not_loaded(tmp_path, user_net):
    path = tmp_path / "net.keras"
    path.write_bytes(user_net.path.read_bytes())
    model = plugin(path)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ConfigError) as exc:
        model.build((28, 28, 1), 10, 0)
    assert str(exc.value) == (f"model keras-file: {path} has sha256 {sha256_of(path)}, not the "
                              f"pinned {user_net.sha256}")


def test_shapes_are_checked_against_the_data(user_net):
    with pytest.raises(ConfigError) as exc:
        plugin(user_net.path).build((32, 32, 1), 10, 0)
    assert str(exc.value) == ("model keras-file (net.keras): the network takes inputs of shape "
                              "(28, 28, 1), the dataset's images are (32, 32, 1)")
    with pytest.raises(ConfigError) as exc:
        plugin(user_net.path).build((28, 28, 1), 47, 0)
    assert str(exc.value) == ("model keras-file (net.keras): the network outputs shape (10,), "
                              "the dataset has 47 classes (artbench needs one logit per class)")


def test_a_softmax_is_unwrapped_to_logits_or_refused(tmp_path, user_net):
    import keras

    probs = small_net(softmax=True, seed=3)
    path = tmp_path / "probs.keras"
    probs.save(path)
    x = user_net.x_test[:64]
    logits = np.asarray(plugin(path).build((28, 28, 1), 10, 0)(x))
    p = np.asarray(probs(x))
    np.testing.assert_array_equal(logits.argmax(1), p.argmax(1))
    np.testing.assert_allclose(np.asarray(keras.ops.softmax(logits)), p, atol=1e-6)
    assert not np.allclose(logits.sum(1), 1.0)  # logits, not probabilities
    # a Softmax layer at the end (functional) is dropped
    inp = keras.Input((28, 28, 1))
    z = keras.layers.Dense(10)(keras.layers.Flatten()(inp))
    functional = keras.Model(inp, keras.layers.Softmax()(z))
    fpath = tmp_path / "functional.keras"
    functional.save(fpath)
    flogits = np.asarray(plugin(fpath).build((28, 28, 1), 10, 0)(x))
    np.testing.assert_allclose(np.asarray(keras.ops.softmax(flogits)), functional(x), atol=1e-6)
    with pytest.raises(ConfigError) as exc:
        plugin(path, softmax="refuse").build((28, 28, 1), 10, 0)
    assert str(exc.value) == (
        "model keras-file (probs.keras): the network ends in a softmax (layer 'out') and "
        "outputs probabilities; artbench attacks logits (ART's Carlini-Wagner and other margin "
        "attacks misbehave silently on probabilities): save it without the softmax or set "
        "softmax: unwrap")


def test_a_legacy_h5_file_loads_only_when_allowed(tmp_path, user_net):
    import keras

    h5 = tmp_path / "net.h5"
    keras.saving.load_model(user_net.path, compile=False).save(h5)
    net = plugin(h5, allow_legacy_h5=True).build((28, 28, 1), 10, 0)
    want = keras.saving.load_model(user_net.path, compile=False)(user_net.x_test[:8])
    np.testing.assert_allclose(np.asarray(net(user_net.x_test[:8])), want, atol=1e-6)


def test_a_0_255_first_layer_is_warned_about(tmp_path, user_net, capsys):
    import keras

    net = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255),
                            keras.layers.Flatten(), keras.layers.Dense(10)])
    path = tmp_path / "scaled.keras"
    net.save(path)
    plugin(path).build((28, 28, 1), 10, 0)
    plugin(path).build((28, 28, 1), 10, 0)  # once per network and process
    assert capsys.readouterr().err.splitlines() == [
        "warning: model keras-file (scaled.keras): its first layer 'rescaling' rescales inputs "
        "by 0.003922, as for pixels in 0..255, but the data are in [0, 1]: check the network's "
        "preprocessing"]


class FirstWeights:
    """A Keras callback that keeps the weights the network starts training with."""

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None) -> None:
        self.weights = [w.copy() for w in self.model.get_weights()]

    def __getattr__(self, name):  # every other callback method: nothing to do
        return lambda *args, **kwargs: None


@pytest.mark.parametrize("mode", ["fine-tune", "from-scratch"])
def test_a_defense_trains_from_the_files_weights_or_from_scratch(user_net, mode):
    model_plugin = plugin(user_net.path, on_training=mode, epochs=1, batch_size=64)
    net = model_plugin.build((28, 28, 1), 10, 0)
    file_weights = [w.copy() for w in net.get_weights()]
    seen = FirstWeights()
    targets = np.eye(10, dtype=np.float32)[user_net.y_test[:64]]
    history = model_plugin.fit(net, user_net.x_test[:64], targets, 2.0, 0, callbacks=[seen])
    assert len(history["loss"]) == 1
    kernels_equal = [np.array_equal(a, b) for a, b in zip(seen.weights, file_weights,
                                                          strict=True) if a.ndim > 1]
    assert all(kernels_equal) if mode == "fine-tune" else not any(kernels_equal)
    assert not np.array_equal(net.get_weights()[0], seen.weights[0])  # and it trained


@dataclasses.dataclass(frozen=True)
class Blank(BatchTransform):
    """Trains on black images: the first convolution's kernel then gets no gradient."""

    def __call__(self, model, x, targets):
        return x * 0.0, targets


def test_fine_tuning_applies_a_defenses_batch_transform(user_net):
    model_plugin = plugin(user_net.path, on_training="fine-tune", epochs=1, batch_size=32)
    net = model_plugin.build((28, 28, 1), 10, 0)
    kernel, dense_bias = net.get_weights()[0].copy(), net.get_weights()[-1].copy()
    targets = np.eye(10, dtype=np.float32)[user_net.y_test[:64]]
    history = model_plugin.fit(net, user_net.x_test[:64], targets, 1.0, 0, transform=Blank())
    assert len(history["loss"]) == 1
    np.testing.assert_array_equal(net.get_weights()[0], kernel)  # zero inputs: no kernel step
    assert not np.array_equal(net.get_weights()[-1], dense_bias)  # but it trained
