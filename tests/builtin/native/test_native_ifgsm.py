"""Native I-FGSM against ART's BasicIterativeMethod, and its output contract."""

from __future__ import annotations

import numpy as np
import pytest
from bench_builtin.native.ifgsm import ifgsm
from native_helpers import art_classifier, predict

N = 200
EPS = 0.1
ITERS = 10


@pytest.fixture(scope="module")
def inputs(data):
    return data.x_test[:N], data.y_test[:N], (data.y_test[:N] + 1) % 10


@pytest.mark.parametrize("targeted", [True, False], ids=["targeted", "untargeted"])
def test_same_predictions_as_art_bim(model, inputs, targeted: bool) -> None:
    from art.attacks.evasion import BasicIterativeMethod

    x, y, t = inputs
    labels = t if targeted else y
    bim = BasicIterativeMethod(art_classifier(model), eps=EPS, eps_step=EPS / ITERS,
                               max_iter=ITERS, targeted=targeted, batch_size=N, verbose=False)
    ref = bim.generate(x, np.eye(10, dtype=np.float32)[labels])
    adv, ok = ifgsm(model, x, labels, 10, targeted=targeted, eps=EPS, iterations=ITERS)
    same = (predict(model, adv) == predict(model, ref)).mean()
    assert same >= 0.99, same
    assert 0.05 < ok.mean() < 1.0  # a real attack, not a trivial setting


@pytest.mark.parametrize("loss", ["ce", "ce-t", "margin"])
@pytest.mark.parametrize("early_stop", [False, True])
def test_outputs_finite_in_range_within_eps(model, inputs, loss: str, early_stop: bool) -> None:
    x, _, t = inputs
    adv, ok = ifgsm(model, x, t, 10, targeted=True, eps=0.05, iterations=7, loss=loss,
                    temperature=10.0, early_stop=early_stop, batch_size=64)
    assert adv.dtype == np.float32 and adv.shape == x.shape
    assert np.isfinite(adv).all()
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    assert np.abs(adv - x).max() <= 0.05 + 1e-6
    assert ((predict(model, adv) == t) == ok).all()


def test_early_stop_only_keeps_successful_iterates(model, inputs) -> None:
    x, _, t = inputs
    full, ok_full = ifgsm(model, x, t, 10, targeted=True, eps=EPS, iterations=ITERS)
    early, ok_early = ifgsm(model, x, t, 10, targeted=True, eps=EPS, iterations=ITERS,
                           early_stop=True, batch_size=8)
    assert (ok_early >= ok_full).all()
    assert (predict(model, early)[ok_early] == t[ok_early]).all()
