"""PGD adversarial training through the real HostTrainer and model cache: the batches it trains
on are PGD examples inside the ball, its parameters are the network's cache key, and a model
whose fit() cannot apply a transform gets one clear line. (That it makes a network robust is
checked on the quick start: tests/test_quickstart.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bench_builtin.defenses.adversarial_training import AdversarialTraining
from bench_builtin.models.cnn import Cnn

from bench.cache import ModelCache
from bench.errors import ConfigError
from bench.interfaces import DataSplit
from bench.progress import RunProgress
from bench.training import HostTrainer


@pytest.fixture(scope="module")
def data() -> DataSplit:
    from bench_builtin.datasets.digits import Digits

    return Digits().load("train[:200]")


def trainer(data: DataSplit, cache: ModelCache, model: Any = None) -> HostTrainer:
    model = model or Cnn(Cnn.Params(epochs=1, optimizer="adam", learning_rate=0.002))
    return HostTrainer(model, "1.0.0", data, cache, 0, RunProgress(True))


def defense(**params: Any) -> AdversarialTraining:
    return AdversarialTraining(AdversarialTraining.Params(**params))


def test_training_batches_are_pgd_examples_inside_the_ball(data):
    import tensorflow as tf

    net = Cnn(Cnn.Params()).build(data.input_shape, 10, 0)
    x = tf.constant(data.x[:64])
    oh = tf.constant(np.eye(10, dtype=np.float32)[data.y[:64]])
    adv, targets = defense(eps=0.1, steps=5).transform((0.0, 1.0))(net, x, oh)
    delta = np.abs(adv.numpy() - data.x[:64]).max(axis=(1, 2, 3))
    assert delta.max() <= 0.1 + 1e-6 and delta.min() > 0.05
    assert targets is oh

    def loss(images: Any) -> float:
        z = net(images, training=False)
        return float(tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(oh, z)))

    assert loss(adv) > loss(x)
    half, _ = defense(eps=0.1, steps=5, clean_fraction=0.5).transform((0.0, 1.0))(net, x, oh)
    np.testing.assert_array_equal(half.numpy()[:32], data.x[:32])
    assert np.abs(half.numpy()[32:] - data.x[32:64]).max() > 0.05


def test_parameters_are_the_cache_key_and_a_repeat_trains_nothing(data, tmp_path):
    cache = ModelCache(tmp_path)
    first = trainer(data, cache)
    defense(eps=0.1, steps=3).apply(first)
    again = trainer(data, cache)
    defense(eps=0.1, steps=3).apply(again)
    other = trainer(data, cache)
    defense(eps=0.2, steps=3).apply(other)
    plain = trainer(data, cache)
    plain.undefended()
    (a,), (b,), (c,), (d,) = first.records, again.records, other.records, plain.records
    assert not a["cached"] and b["cached"] and b["key"] == a["key"]
    assert len({a["key"], c["key"], d["key"]}) == 3
    assert cache.meta(a["key"])["material"]["transform"]["fields"]["eps"] == 0.1


def test_a_model_whose_fit_takes_no_transform_is_refused_in_one_line(data, tmp_path):
    class OldCnn(Cnn):
        def fit(self, model: Any, x: Any, targets: Any, temperature: float, seed: int,
                callbacks: Any = ()) -> dict[str, list[float]]:
            raise AssertionError("not reached")

    old = trainer(data, ModelCache(tmp_path), OldCnn(Cnn.Params(epochs=1)))
    with pytest.raises(ConfigError) as err:
        defense().apply(old)
    assert str(err.value) == ("model 'cnn': its fit() takes no transform, which this defense "
                              "needs (see bench.batches.fit_with_transform)")


def test_declares_a_training_defense_swept_by_eps():
    t = defense().traits()
    assert (t.kind, t.gradient, t.sweep, t.sweep_origin) == ("training", "exact", "eps", 0.0)
