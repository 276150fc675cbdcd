"""python: a network from the user's ``module:function``, trained and cached like cnn."""

from __future__ import annotations

import json
import sqlite3
import textwrap

import pytest
from bench_builtin.models.python_model import PythonModel
from pydantic import ValidationError

from bench.cli import main
from bench.errors import ConfigError

MODULE = '''
import keras


def build(input_shape, num_classes, seed, width=8):
    return keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(width, 3, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])


def not_a_model(input_shape, num_classes, seed):
    return "a string"


class Zoo:
    @staticmethod
    def tiny(input_shape, num_classes, seed):
        return build(input_shape, num_classes, seed, width=4)


CONSTANT = 3
'''

SUITE = """\
name: byom-python
dataset: {name: digits, train: "train[:300]", test: test}
models:
  - name: python
    params: {factory: "user_nets:build", kwargs: {width: 6}, epochs: 1, learning_rate: 0.01}
defenses:
  - name: none
attacks:
  - name: fgsm
    params: {eps: 0.1}
evaluation: {samples: 20, batch_size: 20, seed: 0}
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / "user_nets.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(__import__("sys").modules, "user_nets", raising=False)
    return folder / "user_nets.py"


def test_a_factory_network_trains_runs_and_is_cached(tmp_path, user_module):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    store, cache = tmp_path / "store.sqlite", tmp_path / "cache"
    args = ["run", str(suite), "--quiet", "--store", str(store), "--cache-dir", str(cache)]
    assert main(args) == 0
    status, clean, training = sqlite3.connect(store).execute(
        "SELECT status, clean_accuracy, training_json FROM rows").fetchone()
    assert status == "ok" and clean > 0.3  # trained one epoch: well above chance (0.1)
    [record] = json.loads(training)
    assert record["cached"] is False
    [entry] = cache.rglob("*.keras")
    material = json.loads(entry.with_suffix(".json").read_text())["material"]["training"]
    assert material["factory"] == "user_nets:build" and material["kwargs"] == {"width": 6}
    assert len(material["source_sha256"]) == 64
    assert main(args) == 0  # a second run loads it from the cache
    [_, again] = sqlite3.connect(store).execute("SELECT training_json FROM rows").fetchall()
    assert json.loads(again[0])[0]["cached"] is True


def test_the_softmax_of_a_factory_network_is_unwrapped(user_module):
    import keras

    net = PythonModel(PythonModel.Params(factory="user_nets:Zoo.tiny")).build((28, 28, 1), 10, 0)
    assert net.layers[-1].activation is keras.activations.linear


def test_editing_the_module_changes_the_cache_key(user_module):
    before = PythonModel(PythonModel.Params(factory="user_nets:build")).training_key()
    user_module.write_text(user_module.read_text() + "\n# edited\n")
    after = PythonModel(PythonModel.Params(factory="user_nets:build")).training_key()
    assert before["source_sha256"] != after["source_sha256"]


@pytest.mark.parametrize(("factory", "message"), [
    ("user_nets.build", "expected 'package.module:function'"),
    ("no_such_module_xyz:build",
     "no module named 'no_such_module_xyz' (is it installed or on PYTHONPATH?)"),
    ("user_nets:missing", "'user_nets' has no attribute 'missing'"),
    ("user_nets:Zoo.huge", "'user_nets.Zoo' has no attribute 'huge'"),
    ("user_nets:CONSTANT", "'user_nets:CONSTANT' is not callable (int)"),
])
def test_a_bad_factory_is_one_line(user_module, factory, message):
    with pytest.raises(ValidationError) as exc:
        PythonModel.Params(factory=factory)
    [error] = exc.value.errors()
    assert error["loc"] == ("factory",) and error["msg"] == message


def test_a_factory_that_returns_no_model_fails_its_row(user_module):
    model = PythonModel(PythonModel.Params(factory="user_nets:not_a_model"))
    with pytest.raises(ConfigError) as exc:
        model.build((28, 28, 1), 10, 0)
    assert str(exc.value) == "model python (user_nets:not_a_model): returned str, not a keras.Model"
