"""Native attacks on a tiny fixed linear model (no training): fast checks of the eps ball, of
``target`` reaching the attack, and of CW L2's binary search raising c."""

from __future__ import annotations

import numpy as np
import pytest
from bench_builtin.attacks.native import CwL0Native, CwL2Native, CwLinfNative, IFgsm

K = 3
SHAPE = (4, 4, 1)


def linear(weights: np.ndarray, bias: np.ndarray):
    """logits = x.flatten() @ weights + bias, as a Keras model."""
    import keras

    model = keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(),
                              keras.layers.Dense(K)])
    model.layers[-1].set_weights([weights.astype(np.float32), bias.astype(np.float32)])
    return model


@pytest.fixture(scope="module")
def random_linear():
    rng = np.random.default_rng(0)
    return linear(rng.normal(size=(16, K)), np.zeros(K))


def predict(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(x, training=False)).argmax(axis=1)


def inputs(n: int = 24) -> np.ndarray:
    return np.random.default_rng(1).uniform(0.3, 0.7, size=(n, *SHAPE)).astype(np.float32)


@pytest.mark.parametrize("target", [None, "next"])
def test_ifgsm_with_alpha_eps_stays_in_the_eps_ball(random_linear, target):
    """alpha = eps over several steps would walk 5 eps away with data-range clipping only."""
    x = inputs()
    y = predict(random_linear, x)
    targets = None if target is None else (y + 1) % K
    attack = IFgsm(IFgsm.Params(eps=0.05, iterations=5, alpha=0.05, target=target))
    out = attack.generate(random_linear, x, y, targets, (0.0, 1.0), K)
    dist = np.abs(out.x_adv - x).reshape(len(x), -1).max(axis=1)
    assert out.info == {"alpha": 0.05}
    assert dist.max() <= 0.05 + 1e-6, dist.max()
    assert dist.min() >= 0.05 - 1e-6  # every sample walked to the edge of the ball


def test_ifgsm_targeted_reaches_the_target_untargeted_does_not_aim(random_linear):
    x = inputs()
    y = predict(random_linear, x)
    targets = (y + 1) % K
    params = {"eps": 0.3, "iterations": 20}
    t_out = IFgsm(IFgsm.Params(**params, target="next")).generate(
        random_linear, x, y, targets, (0.0, 1.0), K)
    u_out = IFgsm(IFgsm.Params(**params)).generate(random_linear, x, y, None, (0.0, 1.0), K)
    t_pred, u_pred = predict(random_linear, t_out.x_adv), predict(random_linear, u_out.x_adv)
    assert (t_pred == targets).all(), (t_pred == targets).mean()
    assert t_out.success.all()
    assert (u_pred != y).all() and u_out.success.all()
    # the untargeted attack goes to the nearest other class, not to the target: they differ
    assert (u_pred != targets).sum() >= 5, (u_pred != targets).sum()


def test_ifgsm_reports_failure_honestly(random_linear):
    """A radius too small to flip anything: nothing moves to the target, nothing succeeds."""
    x = inputs()
    y = predict(random_linear, x)
    targets = (y + 1) % K
    out = IFgsm(IFgsm.Params(eps=1e-4, iterations=2, target="next")).generate(
        random_linear, x, y, targets, (0.0, 1.0), K)
    pred = predict(random_linear, out.x_adv)
    assert (out.success == (pred == targets)).all()
    assert out.success.mean() < 0.2


def test_cw_l2_raises_c_from_the_default_initial_const():
    """The margin between class 0 and 1 is 1 and its gradient has squared norm 16, so the
    optimum needs c > 2 * 1 / 16: the default c = 1e-3 must be raised about a hundredfold."""
    w = np.zeros((16, K))
    w[:, 1] = 1.0
    model = linear(w, np.array([9.0, 0.0, -100.0]))  # class 0 until sum(x) > 9
    x = np.full((4, *SHAPE), 0.5, np.float32)  # sum 8: class 0 by a margin of 1
    y = np.zeros(4, np.int64)
    attack = CwL2Native(CwL2Native.Params(iterations=100))
    assert attack.params.initial_const == 1e-3 and attack.params.binary_search_steps == 9
    out = attack.generate(model, x, y, None, (0.0, 1.0), K)
    assert out.success.all()
    assert (predict(model, out.x_adv) == 1).all()
    # the smallest successful c the search found: about 0.1 (Adam's transient iterates
    # succeed a little below the optimum's 1/8), a hundred times the initial c
    assert 0.05 <= out.info["mean_const"] <= 1.0, out.info
    l2 = np.sqrt(((out.x_adv - x) ** 2).reshape(4, -1).sum(axis=1))
    assert (l2 < 0.5).all(), l2  # minimal distortion is 1 / 4 = 0.25


def test_bounds():
    assert IFgsm(IFgsm.Params(eps=0.02)).bound() == ("inf", 0.02)
    for cls in (CwL2Native, CwLinfNative, CwL0Native):
        assert cls(cls.Params()).bound() is None


@pytest.mark.parametrize(("cls", "params"), [
    (CwL2Native, {"iterations": 50, "binary_search_steps": 4, "initial_const": 1.0}),
    (CwLinfNative, {"iterations": 50, "initial_const": 0.1, "learning_rate": 0.05}),
    (CwL0Native, {"iterations": 30, "initial_const": 1.0, "largest_const": 64.0}),
], ids=["l2", "linf", "l0"])
def test_cw_plugins_pass_target_and_report_success_honestly(random_linear, cls, params):
    x = inputs(12)
    y = predict(random_linear, x)
    targets = (y + 2) % K
    for t in (None, targets):
        out = cls(cls.Params(**params, target=None if t is None else "next")).generate(
            random_linear, x, y, t, (0.0, 1.0), K)
        pred = predict(random_linear, out.x_adv)
        hit = pred != y if t is None else pred == t
        assert (hit == out.success).all()
        assert out.success.mean() >= 0.5, out.success.mean()
        assert out.x_adv.min() >= 0.0 and out.x_adv.max() <= 1.0
        if cls is CwL0Native:
            assert isinstance(out.info, dict)
        else:
            assert cls is CwLinfNative or out.info["mean_const"] > 0


def ifgsm_dist(model, x, y, **params):
    out = IFgsm(IFgsm.Params(**params)).generate(model, x, y, None, (0.0, 1.0), K)
    return np.abs(out.x_adv - x).reshape(len(x), -1).max(axis=1), out


def test_ifgsm_plugin_passes_every_parameter(random_linear):
    x = inputs(8)
    y = predict(random_linear, x)
    # the step: default eps / iterations, or alpha
    dist, out = ifgsm_dist(random_linear, x, y, eps=0.1, iterations=4)
    assert out.info == {"alpha": pytest.approx(0.025)}
    dist, out = ifgsm_dist(random_linear, x, y, eps=0.1, iterations=4, alpha=0.0125)
    assert out.info == {"alpha": 0.0125} and dist.max() == pytest.approx(0.05, abs=1e-6)
    # early_stop: the batch stops once every sample is adversarial, short of the eps boundary
    full, _ = ifgsm_dist(random_linear, x, y, eps=0.6, iterations=30, alpha=0.02)
    early, out = ifgsm_dist(random_linear, x, y, eps=0.6, iterations=30, alpha=0.02,
                            early_stop=True)
    assert out.success.all() and early.max() < 0.5 and full.min() > 0.55
    # kappa: the margin loss keeps pushing past the boundary only with a confidence margin
    k0, _ = ifgsm_dist(random_linear, x, y, eps=0.6, iterations=30, alpha=0.02, loss="margin")
    k9, _ = ifgsm_dist(random_linear, x, y, eps=0.6, iterations=30, alpha=0.02, loss="margin",
                       kappa=1e6)
    assert k0.max() < 0.5 and k9.min() > 0.55
    # clip_values
    out = IFgsm(IFgsm.Params(eps=0.3)).generate(random_linear, x, y, None, (0.45, 0.55), K)
    assert out.x_adv.min() >= 0.45 - 1e-7 and out.x_adv.max() <= 0.55 + 1e-7


def test_ifgsm_plugin_passes_loss_and_temperature():
    """A saturated linear model: the cross-entropy gradient is exactly zero in float32, the
    margin's and the cross-entropy's at a high temperature are not."""
    rng = np.random.default_rng(0)
    model = linear(rng.normal(size=(16, K)) * 1e4, np.zeros(K))
    x = inputs(8)
    y = predict(model, x)
    moved = {}
    for loss, t in (("ce", 100.0), ("margin", 100.0), ("ce-t", 1e5), ("ce-t", 1.0)):
        dist, _ = ifgsm_dist(model, x, y, eps=0.1, iterations=3, loss=loss, temperature=t)
        moved[loss, t] = float(dist.min())
    assert moved[("ce", 100.0)] == 0.0 and moved[("ce-t", 1.0)] == 0.0, moved
    assert moved[("margin", 100.0)] > 0.03 and moved[("ce-t", 1e5)] > 0.03, moved  # a step
