"""A user's small Keras network, trained once per session on 300 digits and saved as .keras."""

from __future__ import annotations

import numpy as np
import pytest
from bench_builtin.datasets.digits import Digits
from byom_helpers import UserNet, sha256_of, small_net


@pytest.fixture(scope="session")
def user_net(tmp_path_factory) -> UserNet:
    """The user's network: trained 1 epoch on digits train[:300] (about 2 s)."""
    import keras

    digits = Digits(Digits.Params())
    train, test = digits.load("train[:300]"), digits.load("test")
    net = small_net()
    net.compile(optimizer=keras.optimizers.Adam(0.01),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    net.fit(np.asarray(train.x), np.asarray(train.y), epochs=1, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("user") / "net.keras"
    net.save(path)
    return UserNet(path, sha256_of(path), np.asarray(test.x), np.asarray(test.y))
