"""A small reference CNN trained once per session on scikit-learn's digits upsampled to 28x28.

Weights are cached in pytest's cache directory, so only the first session pays for training.
Also a T=100 defensively distilled student (Papernot et al. 2016), deployed at T=1.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from native_helpers import RECIPE, T_DISTILL, digits_28, fit, reference_cnn

from tests.helpers import machine_lock


def _trained(cache_dir: Path, name: str, build) -> object:
    """The network ``name``, trained once: pytest-xdist workers (and concurrent sessions) take
    turns, so one trains and saves it, the others load it."""
    path = cache_dir / f"{name}-{hashlib.sha1(RECIPE.encode()).hexdigest()[:10]}.weights.h5"
    model = reference_cnn(10, seed=0)
    with machine_lock("native-models"):
        if path.exists():
            model.load_weights(path)
        else:
            build(model)
            partial = path.with_name(f"partial-{os.getpid()}-{path.name}")
            model.save_weights(partial)
            os.replace(partial, path)
    return model


class Data:
    def __init__(self) -> None:
        x, y = digits_28()
        self.x_train, self.y_train = x[:1500], y[:1500]
        self.x_test, self.y_test = x[1500:], y[1500:]


@pytest.fixture(scope="session")
def data() -> Data:
    return Data()


@pytest.fixture(scope="session")
def cache_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if cache is None:
        return tmp_path_factory.mktemp("bench_native_models")
    return Path(cache.mkdir("bench_native_models"))


@pytest.fixture(scope="session")
def model(data: Data, cache_dir: Path):
    """The undistilled reference CNN (logits)."""
    hard = np.eye(10, dtype=np.float32)[data.y_train]
    return _trained(cache_dir, "plain", lambda m: fit(m, data.x_train, hard, 1.0))


@pytest.fixture(scope="session")
def distilled(data: Data, cache_dir: Path):
    """Student distilled at T=100 from a teacher trained at T=100; deployed at T=1 (logits)."""
    import tensorflow as tf

    hard = np.eye(10, dtype=np.float32)[data.y_train]
    teacher = _trained(cache_dir, "teacher", lambda m: fit(m, data.x_train, hard, T_DISTILL))

    def student(m) -> None:
        soft = tf.nn.softmax(teacher.predict(data.x_train, verbose=0) / T_DISTILL).numpy()
        fit(m, data.x_train, soft, T_DISTILL)

    return _trained(cache_dir, "student", student)
