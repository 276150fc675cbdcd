"""Bit-depth reduction behind the public wrapper: the deployed network sees quantised inputs;
with gradient none a gradient attack sees zeros and fails, with BPDA it succeeds again."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bench_builtin.attacks.native import Pgd
from bench_builtin.defenses.bit_depth import BitDepth

from bench.interfaces import DataSplit, Trainer
from bench.wrappers import input_transformation


class Given(Trainer):
    """A trainer whose undefended network is the kit's tiny trained model."""

    def __init__(self, model: Any, data: DataSplit) -> None:
        self.model, self.train_data = model, data

    def undefended(self) -> Any:
        return self.model


def deploy(model: Any, data: Any, **params: Any) -> Any:
    return BitDepth(BitDepth.Params(**params)).apply(Given(model, data.train))


def test_the_network_sees_quantised_inputs(bench_tiny_model, bench_tiny_data):
    x = bench_tiny_data.test.x[:20]
    squeezed = deploy(bench_tiny_model, bench_tiny_data, bits=1)
    np.testing.assert_allclose(np.asarray(squeezed(x)),
                               np.asarray(bench_tiny_model(np.round(x))), atol=1e-5)


def pgd_success(model: Any, data: Any) -> float:
    x, y = data.test.x, data.test.y
    clean = np.asarray(model(x)).argmax(axis=1) == y
    out = Pgd(Pgd.Params(eps=0.3, steps=10)).generate(model, x, y, None, (0.0, 1.0), 10)
    fooled = np.asarray(model(out.x_adv)).argmax(axis=1) != y
    return float((fooled & clean).sum() / clean.sum())


def test_bpda_breaks_what_the_stopped_gradient_hides(bench_tiny_model, bench_tiny_data):
    masked = pgd_success(deploy(bench_tiny_model, bench_tiny_data, bits=1, gradient="none"),
                         bench_tiny_data)
    bpda = pgd_success(deploy(bench_tiny_model, bench_tiny_data, bits=1, gradient="bpda"),
                       bench_tiny_data)
    assert masked < 0.2 and bpda > masked + 0.4, (masked, bpda)


def test_gradients_as_declared(bench_tiny_model):
    import tensorflow as tf

    x = tf.constant(np.full((2, 28, 28, 1), 0.4, np.float32))
    # round's own gradient is None in TensorFlow: "exact" through it is no gradient at all
    for gradient, zero in (("none", True), ("bpda", False)):
        net = input_transformation(bench_tiny_model, tf.round, gradient=gradient)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.reduce_sum(net(x))
        g = tape.gradient(out, x)
        assert g is not None and (not np.any(g.numpy())) is zero, gradient
    with pytest.raises(ValueError, match="gradient must be one of"):
        input_transformation(bench_tiny_model, tf.round, gradient="sometimes")  # type: ignore


def test_declares_an_input_transformation():
    t = BitDepth(BitDepth.Params(bits=3, gradient="none")).traits()
    assert (t.kind, t.gradient, t.sweep) == ("input-transformation", "none", "bits")
