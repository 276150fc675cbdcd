from __future__ import annotations

import numpy as np
import pytest
from bench_builtin.datasets.digits import Digits, DigitsParams, bilinear_matrix, upsample
from pydantic import ValidationError

from bench.errors import ConfigError


def test_splits_shapes_and_range() -> None:
    ds = Digits()
    train, test = ds.load("train"), ds.load("test")
    assert (len(train), len(test)) == (1500, 297)
    assert train.x.shape == (1500, 28, 28, 1) and train.x.dtype == np.float32
    assert train.y.dtype == np.int64 and set(train.y.tolist()) == set(range(10))
    assert train.num_classes == 10 and train.class_names == tuple("0123456789")
    assert 0.0 <= train.x.min() and train.x.max() <= 1.0 and train.x.max() > 0.9
    assert (train.name, test.name) == ("digits:train", "digits:test")
    assert train.clip_values == (0.0, 1.0)


def test_file_order_and_slicing() -> None:
    from sklearn.datasets import load_digits

    target = load_digits().target
    ds = Digits()
    np.testing.assert_array_equal(ds.load("train").y, target[:1500])
    np.testing.assert_array_equal(ds.load("test").y, target[1500:])
    part = ds.load("train[:1000]")
    assert len(part) == 1000 and part.name == "digits:train[:1000]"
    assert len(ds.load("test[:50%]")) + len(ds.load("test[50%:]")) == 297
    np.testing.assert_array_equal(ds.load("test[-10:]").y, target[-10:])
    with pytest.raises(ConfigError, match="unknown split 'validation' for digits"):
        ds.load("validation")
    with pytest.raises(ConfigError, match="has only 297 samples"):
        ds.load("test[:1000]")


def test_original_size_and_scaling() -> None:
    from sklearn.datasets import load_digits

    small = Digits(DigitsParams(size=8)).load("train[:5]")
    assert small.x.shape == (5, 8, 8, 1) and small.name == "digits-8x8:train[:5]"
    np.testing.assert_allclose(small.x[..., 0], load_digits().images[:5] / 16.0, rtol=1e-6)
    with pytest.raises(ValidationError):
        DigitsParams(size=4)


def test_returned_arrays_are_private() -> None:
    a = Digits().load("train[:3]")
    a.x[:] = 0
    assert Digits().load("train[:3]").x.max() > 0


def test_bilinear_matches_tensorflow() -> None:
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    images = rng.random((4, 8, 8))
    ours = upsample(images, 28)
    ref = tf.image.resize(images[..., None], (28, 28), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(ours, np.clip(ref, 0, 1), atol=1e-5)


def test_bilinear_matrix_rows_sum_to_one() -> None:
    m = bilinear_matrix(8, 28)
    assert m.shape == (28, 8) and np.allclose(m.sum(axis=1), 1.0) and (m >= 0).all()
    np.testing.assert_allclose(bilinear_matrix(8, 8), np.eye(8))
