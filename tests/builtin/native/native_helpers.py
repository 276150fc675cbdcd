"""Helpers for the native attack tests: data, the reference CNN, metrics, ART wrapping."""

from __future__ import annotations

import numpy as np

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


def fit(model, x: np.ndarray, soft: np.ndarray, temperature: float) -> None:
    import keras
    import tensorflow as tf

    def loss(y_true, logits):
        return tf.nn.softmax_cross_entropy_with_logits(y_true, logits / temperature)

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    model.fit(x, soft, batch_size=64, epochs=EPOCHS, verbose=0, shuffle=True)


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


def distortion(x: np.ndarray, x_adv: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample L0 (pixels changed), L2 and L-inf distances."""
    d = (x_adv - x).reshape(len(x), -1)
    return {"l0": (np.abs(d) > 1e-6).sum(axis=1).astype(float),
            "l2": np.sqrt((d**2).sum(axis=1)), "linf": np.abs(d).max(axis=1)}
