"""Native Carlini-Wagner attacks against ART 1.20.1's, on the same model and inputs.

Matched settings: the same binary-search steps, initial c, learning rate, kappa, c bounds and
(for L-inf) iterations. ART's L2 / L0 "iteration" is a gradient step plus a line search of up
to 10 more forward passes with a learning rate that doubles up to 32x, whereas one native
iteration is one Adam step (one forward+backward); so the native L2 / L0 get 10x ART's
iterations, which is still no more model evaluations than ART's. Distortion is compared on the
samples both attacks broke. Sample counts are small: ART takes seconds per image.
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_builtin.native.cw_l0 import cw_l0
from bench_builtin.native.cw_l2 import cw_l2
from bench_builtin.native.cw_linf import cw_linf
from native_helpers import art_classifier, distortion, predict


def _compare(model, x, y, art_adv, nat_adv, norm: str, slack: float) -> tuple[float, float]:
    art_ok = predict(model, art_adv) != y
    nat_ok = predict(model, nat_adv) != y
    assert nat_ok.mean() >= art_ok.mean(), (nat_ok.mean(), art_ok.mean())
    both = art_ok & nat_ok
    assert both.any()
    d_art = distortion(x, art_adv)[norm][both].mean()
    d_nat = distortion(x, nat_adv)[norm][both].mean()
    assert d_nat <= (1.0 + slack) * d_art, (d_nat, d_art)
    for adv in (nat_adv,):
        assert np.isfinite(adv).all() and adv.min() >= 0.0 and adv.max() <= 1.0
    return d_nat, d_art


def test_cw_l2_vs_art(model, data) -> None:
    from art.attacks.evasion import CarliniL2Method

    x, y = data.x_test[:8], data.y_test[:8]
    art = CarliniL2Method(art_classifier(model), max_iter=10, binary_search_steps=3,
                          initial_const=1.0, learning_rate=1e-2, batch_size=8, verbose=False)
    art_adv = art.generate(x, np.eye(10, dtype=np.float32)[y])
    nat_adv, _, _ = cw_l2(model, x, y, 10, targeted=False, iterations=100,
                          binary_search_steps=3, initial_const=1.0, learning_rate=1e-2)
    _compare(model, x, y, art_adv, nat_adv, "l2", 0.05)


def test_cw_linf_vs_art(model, data) -> None:
    from art.attacks.evasion import CarliniLInfMethod

    x, y = data.x_test[:2], data.y_test[:2]
    hp = dict(learning_rate=0.1, initial_const=0.1, largest_const=2.0)
    art = CarliniLInfMethod(art_classifier(model), max_iter=10, batch_size=2, verbose=False,
                            **hp)
    art_adv = art.generate(x, np.eye(10, dtype=np.float32)[y])
    nat_adv, _, _ = cw_linf(model, x, y, 10, targeted=False, iterations=10, **hp)
    _compare(model, x, y, art_adv, nat_adv, "linf", 0.05)


def test_cw_l0_vs_art(model, data) -> None:
    from art.attacks.evasion import CarliniL0Method

    x, y = data.x_test[:2], data.y_test[:2]
    art = CarliniL0Method(art_classifier(model), max_iter=5, binary_search_steps=1,
                          initial_const=1.0, learning_rate=0.1, batch_size=2, verbose=False)
    art_adv = art.generate(x, np.eye(10, dtype=np.float32)[y])
    nat_adv, _, _ = cw_l0(model, x, y, 10, targeted=False, iterations=50, initial_const=1.0,
                          learning_rate=0.1, largest_const=64.0)
    _compare(model, x, y, art_adv, nat_adv, "l0", 0.10)


def test_art_linf_targeted_success_check_is_inverted(model, data) -> None:
    """Confirms the ART 1.20.1 bug: targeted CarliniLInfMethod tests ``prediction != target``.

    Its inner optimisation reaches the target class, but the check then rejects that example
    (and would accept any other class), so the clean image comes back.
    """
    from art.attacks.evasion import CarliniLInfMethod

    x, y = data.x_test[:2], data.y_test[:2]
    t = (y + 1) % 10
    inner: list[np.ndarray] = []

    class Spy(CarliniLInfMethod):
        def _generate_single(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            out = super()._generate_single(*args, **kwargs)
            inner.append(out)
            return out

    art = Spy(art_classifier(model), targeted=True, max_iter=5, learning_rate=0.1,
              initial_const=0.1, largest_const=0.5, batch_size=1, verbose=False)
    art_adv = art.generate(x, np.eye(10, dtype=np.float32)[t])
    reached = predict(model, np.concatenate(inner))
    assert np.isin(t, reached).any()  # ART's optimiser did reach a target ...
    assert (predict(model, art_adv) != t).all()  # ... yet it returns no targeted example
    nat_adv, ok, _ = cw_linf(model, x, t, 10, targeted=True, iterations=10, learning_rate=0.1,
                             initial_const=0.1, largest_const=0.5)
    assert ok.all() and (predict(model, nat_adv) == t).all()


def test_art_l2_lower_bound_of_c_is_aliased(model, data) -> None:
    """Confirms the ART 1.20.1 bug: after one failure, c can never decrease again.

    ``c_old = c_current`` aliases the array that is then doubled in place, so the lower bound
    becomes the *new* c, and the bisection (lower + c) / 2 after a later success returns c.
    """
    from art.attacks.evasion import CarliniL2Method

    seen: list[np.ndarray] = []

    class Spy(CarliniL2Method):
        def _loss(self, x, x_adv, target, c_weight):  # type: ignore[override]
            if not seen or c_weight is seen[0][1]:
                seen.append((c_weight.copy(), c_weight))
            return super()._loss(x, x_adv, target, c_weight)

    x, y = data.x_test[:4], data.y_test[:4]
    spy = Spy(art_classifier(model), max_iter=5, binary_search_steps=6, initial_const=0.125,
              learning_rate=1e-2, batch_size=4, verbose=False)
    spy.generate(x, np.eye(10, dtype=np.float32)[y])
    # one record at the start of every binary-search step (c is mutated in place)
    starts = np.array([c for c, _ in seen])
    steps = np.diff(starts, axis=0)
    assert (steps >= 0).all(), starts  # c never decreases ...
    stuck = (steps == 0) & (starts[:-1] > 0.125)  # ... and sticks once the attack succeeds
    assert stuck.any(), starts


@pytest.mark.slow
def test_cw_l2_vs_art_more_samples(model, data) -> None:
    from art.attacks.evasion import CarliniL2Method

    x, y = data.x_test[:30], data.y_test[:30]
    art = CarliniL2Method(art_classifier(model), max_iter=20, binary_search_steps=5,
                          initial_const=1e-1, learning_rate=1e-2, batch_size=30, verbose=False)
    art_adv = art.generate(x, np.eye(10, dtype=np.float32)[y])
    nat_adv, _, _ = cw_l2(model, x, y, 10, targeted=False, iterations=200,
                          binary_search_steps=5, initial_const=1e-1, learning_rate=1e-2)
    _compare(model, x, y, art_adv, nat_adv, "l2", 0.05)
