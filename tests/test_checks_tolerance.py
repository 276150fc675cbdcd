"""The eps-bound tolerance is float rounding, not slack: at the smallest eps a real overshoot
fails (the study sweeps eps down to 0.001)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.checks import ATOL, check_adversarial
from bench.errors import AttackCheckError

X = np.full((2, 4, 4, 1), 0.5, np.float32)


def shifted(by: float) -> np.ndarray:
    out = X.copy()
    out[1, 0, 0, 0] += by  # one sample, one pixel
    return out


def test_tolerance_is_float_rounding():
    assert ATOL == 1e-5


@pytest.mark.parametrize("norm", ["inf", 2])
def test_ten_percent_overshoot_at_eps_0_001_fails(norm):
    with pytest.raises(AttackCheckError) as exc:
        check_adversarial(X, shifted(0.0011), (0.0, 1.0), (norm, 0.001))
    assert str(exc.value).startswith(f"1 of 2 adversarial examples exceed eps=0.001 in the "
                                     f"L{norm} norm (by up to 0.0001")


@pytest.mark.parametrize("norm", ["inf", 2])
def test_exactly_eps_and_float32_rounding_pass(norm):
    check_adversarial(X, shifted(0.001), (0.0, 1.0), (norm, 0.001))
    check_adversarial(X, shifted(0.001 + 5e-6), (0.0, 1.0), (norm, 0.001))


def test_tolerance_scales_with_eps_above_one():
    """An L2 eps of 10 gets 10 x ATOL: 5e-5 over passes, 2e-4 over fails."""
    x = np.zeros((1, 100), np.float64)
    ok = x.copy()
    ok[0, 0] = 10 + 5e-5
    check_adversarial(x, ok, (-20.0, 20.0), (2, 10.0))
    bad = x.copy()
    bad[0, 0] = 10 + 2e-4
    with pytest.raises(AttackCheckError, match="exceed eps=10 in the L2 norm"):
        check_adversarial(x, bad, (-20.0, 20.0), (2, 10.0))


def test_l0_counts_pixels_changed_by_more_than_the_tolerance():
    x = np.zeros((1, 8), np.float64)
    adv = x.copy()
    adv[0, :3] = 0.5
    adv[0, 3] = ATOL / 2  # float noise, not a changed pixel
    check_adversarial(x, adv, (0.0, 1.0), (0, 3.0))
    with pytest.raises(AttackCheckError, match="1 of 1 adversarial examples exceed eps=2 "):
        check_adversarial(x, adv, (0.0, 1.0), (0, 2.0))


@pytest.mark.parametrize("value", [1.0 + 2e-5, -2e-5])
def test_data_range_tolerance_is_float_rounding(value):
    x = np.full((1, 4), 0.5)
    adv = x.copy()
    adv[0, 0] = value
    with pytest.raises(AttackCheckError, match="1 of 1 adversarial examples leave the data range"):
        check_adversarial(x, adv, (0.0, 1.0), None)
    adv[0, 0] = 1.0 + 5e-6 if value > 1 else -5e-6
    check_adversarial(x, adv, (0.0, 1.0), None)


def test_norm_of_each_norm_and_spelling():
    from bench.checks import norm_of

    delta = np.array([[0.3, -0.4, 0.0, 1e-5], [0.0, 0.0, 0.0, 2e-5]])
    np.testing.assert_allclose(norm_of(delta, "inf"), [0.4, 2e-5])
    np.testing.assert_allclose(norm_of(delta, np.inf), [0.4, 2e-5])
    np.testing.assert_allclose(norm_of(delta, 2), [np.hypot(0.5, 1e-5), 2e-5])
    np.testing.assert_allclose(norm_of(delta, 1), [0.7 + 1e-5, 2e-5])
    # L0: a change of at most ATOL (1e-5) is float noise, not a changed pixel
    for spelling in (0, "0"):
        assert norm_of(delta, spelling).tolist() == [2.0, 1.0]
    assert norm_of(delta.reshape(2, 2, 2, 1), 0).tolist() == [2.0, 1.0]


def test_counts_name_the_offending_samples_only():
    x = np.full((3, 2, 2, 1), 0.5)
    adv = x.copy()
    adv[0, 0, 0, 0] = np.nan
    adv[2, 1, 1, 0] = np.inf
    with pytest.raises(AttackCheckError) as exc:
        check_adversarial(x, adv, (0.0, 1.0), None)
    assert str(exc.value) == "2 of 3 adversarial examples are not finite"
    for value, by in ((1.25, "0.25"), (-0.5, "0.5")):
        adv = x.copy()
        adv[1, 0, 1, 0] = value
        with pytest.raises(AttackCheckError) as exc:
            check_adversarial(x, adv, (0.0, 1.0), None)
        assert str(exc.value) == (f"1 of 3 adversarial examples leave the data range [0, 1] "
                                  f"(by up to {by})")


def test_tolerance_between_eps_one_and_two_scales_with_eps():
    x = np.zeros((1, 4))
    adv = x.copy()
    adv[0, 0] = 1.5 + 1.8e-5  # the tolerance at eps 1.5 is 1.5 x ATOL = 1.5e-5
    with pytest.raises(AttackCheckError, match="exceed eps=1.5 in the L2 norm"):
        check_adversarial(x, adv, (-2.0, 2.0), (2, 1.5))
    adv[0, 0] = 1.5 + 1.2e-5
    check_adversarial(x, adv, (-2.0, 2.0), (2, 1.5))


@pytest.mark.parametrize("norm", [True, [2], "l2", 3])
def test_unknown_norms_are_refused(norm):
    from bench.checks import check_bound

    with pytest.raises(AttackCheckError, match="unknown norm"):
        check_bound((norm, 0.1))
