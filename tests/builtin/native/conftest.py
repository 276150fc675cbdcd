"""A small reference CNN trained once per session on scikit-learn's digits upsampled to 28x28.

Weights are cached in pytest's cache directory, so only the first session pays for training.
Also a T=100 defensively distilled student (Papernot et al. 2016), deployed at T=1.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

EPOCHS = 12
T_DISTILL = 100.0
RECIPE = f"cnn-digits-v1-adam1e-3-bs64-e{EPOCHS}-T{T_DISTILL}"


def digits_28() -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    x = tf.image.resize(x, (28, 28), method="bilinear").numpy().clip(0.0, 1.0)
    return x.astype(np.float32), d.target.astype(np.int64)


def reference_cnn(num_classes: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Flatten(),
        layers.Dense(200, activation="relu"), layers.Dense(200, activation="relu"),
        layers.Dense(num_classes),
    ])


def _fit(model, x: np.ndarray, soft: np.ndarray, temperature: float) -> None:
    import keras
    import tensorflow as tf

    def loss(y_true, logits):
        return tf.nn.softmax_cross_entropy_with_logits(y_true, logits / temperature)

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    model.fit(x, soft, batch_size=64, epochs=EPOCHS, verbose=0, shuffle=True)


def _trained(cache_dir: Path, name: str, build) -> object:
    path = cache_dir / f"{name}-{hashlib.sha1(RECIPE.encode()).hexdigest()[:10]}.weights.h5"
    model = reference_cnn(10, seed=0)
    if path.exists():
        model.load_weights(path)
    else:
        build(model)
        model.save_weights(path)
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
def cache_dir(request: pytest.FixtureRequest) -> Path:
    return Path(request.config.cache.mkdir("bench_native_models"))


@pytest.fixture(scope="session")
def model(data: Data, cache_dir: Path):
    """The undistilled reference CNN (logits)."""
    hard = np.eye(10, dtype=np.float32)[data.y_train]
    return _trained(cache_dir, "plain", lambda m: _fit(m, data.x_train, hard, 1.0))


@pytest.fixture(scope="session")
def distilled(data: Data, cache_dir: Path):
    """Student distilled at T=100 from a teacher trained at T=100; deployed at T=1 (logits)."""
    import tensorflow as tf

    hard = np.eye(10, dtype=np.float32)[data.y_train]
    teacher = _trained(cache_dir, "teacher", lambda m: _fit(m, data.x_train, hard, T_DISTILL))

    def student(m) -> None:
        soft = tf.nn.softmax(teacher.predict(data.x_train, verbose=0) / T_DISTILL).numpy()
        _fit(m, data.x_train, soft, T_DISTILL)

    return _trained(cache_dir, "student", student)


def predict(model, x: np.ndarray) -> np.ndarray:
    return np.argmax(model.predict(x, batch_size=256, verbose=0), axis=1)


def art_classifier(model):
    import tensorflow as tf
    from art.estimators.classification import TensorFlowV2Classifier

    return TensorFlowV2Classifier(
        model=model, nb_classes=10, input_shape=(28, 28, 1),
        loss_object=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        clip_values=(0.0, 1.0),
    )
