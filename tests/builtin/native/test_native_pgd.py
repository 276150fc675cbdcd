"""Native PGD on the trained reference CNN: inside its ball, ascending its loss, restarts that
only add successes, and the same robust accuracy as ART's ProjectedGradientDescent."""

from __future__ import annotations

import numpy as np
import pytest
from bench_builtin.attacks.native import Pgd
from bench_builtin.native.pgd import pgd
from native_helpers import art_classifier, distortion, predict

N = 100


@pytest.fixture(scope="module")
def batch(data):
    return data.x_test[:N], data.y_test[:N]


@pytest.mark.parametrize("norm,eps", [("inf", 0.1), (2, 1.5)])
def test_stays_in_the_ball_and_the_data_range(model, batch, norm, eps):
    x, y = batch
    x_adv, ok = pgd(model, x, y, 10, targeted=False, eps=eps, steps=10, alpha=eps / 4, norm=norm)
    d = distortion(x, x_adv)["linf" if norm == "inf" else "l2"]
    assert d.max() <= eps * (1 + 1e-5) and x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert d.max() > 0.9 * eps  # it moves to the edge of the ball
    assert (predict(model, x_adv) != y).sum() == ok.sum()


def test_success_rises_with_eps_and_restarts_only_add(model, batch):
    x, y = batch
    rates = [pgd(model, x, y, 10, targeted=False, eps=e, steps=10, alpha=e / 4)[1].mean()
             for e in (0.05, 0.1, 0.2)]
    assert rates[0] < rates[1] < rates[2] and rates[2] > 0.9
    one = pgd(model, x, y, 10, targeted=False, eps=0.08, steps=10, alpha=0.02, restarts=1)[1]
    three = pgd(model, x, y, 10, targeted=False, eps=0.08, steps=10, alpha=0.02, restarts=3)[1]
    assert (three >= one).all() and three.sum() >= one.sum()


def test_targeted_reaches_the_target(model, batch):
    x, y = batch
    targets = (y + 1) % 10
    x_adv, ok = pgd(model, x, targets, 10, targeted=True, eps=0.3, steps=20, alpha=0.03)
    reached = predict(model, x_adv) == targets
    assert reached.mean() > 0.9 and (reached == ok).all()


def test_seeded_runs_repeat(model, batch):
    x, y = batch
    a = pgd(model, x, y, 10, targeted=False, eps=0.1, steps=5, alpha=0.03, seed=3)[0]
    b = pgd(model, x, y, 10, targeted=False, eps=0.1, steps=5, alpha=0.03, seed=3)[0]
    np.testing.assert_array_equal(a, b)


def test_robust_accuracy_matches_arts_pgd_within_two_points(model, batch):
    """The same threat model (L-inf 0.1, 40 steps of 0.01, one random start) on the same 100
    digits: ART's ProjectedGradientDescent and ours leave the same robust accuracy (2 points)."""
    from art.attacks.evasion import ProjectedGradientDescent

    x, y = batch
    ours = Pgd(Pgd.Params(eps=0.1, steps=40, step_size=0.01)).generate(
        model, x, y, None, (0.0, 1.0), 10).x_adv
    art = ProjectedGradientDescent(art_classifier(model), norm=np.inf, eps=0.1, eps_step=0.01,
                                   max_iter=40, num_random_init=1, batch_size=N, verbose=False)
    theirs = art.generate(x=x, y=np.eye(10, dtype=np.float32)[y])
    acc_ours = (predict(model, ours) == y).mean()
    acc_art = (predict(model, theirs) == y).mean()
    assert abs(acc_ours - acc_art) <= 0.02, (acc_ours, acc_art)
    assert acc_ours < (predict(model, x) == y).mean() - 0.2  # the attack does something


def test_declares_its_threat_model():
    t = Pgd(Pgd.Params(eps=0.2, norm=2, loss="margin", target="next")).traits()
    assert (t.norm, t.eps, t.iterative, t.gradient_free, t.targeted, t.loss) == (
        2, 0.2, True, False, True, "margin")
    assert Pgd(Pgd.Params(eps=0.2, norm=2)).bound() == (2, 0.2)
