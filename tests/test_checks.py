from __future__ import annotations

import numpy as np
import pytest

from bench.checks import check_adversarial
from bench.errors import AttackCheckError

X = np.full((3, 2, 2, 1), 0.5, np.float32)


def test_valid_batch_passes():
    check_adversarial(X, X + 0.1, (0.0, 1.0), ("inf", 0.1))
    check_adversarial(X, X + 0.1, (0.0, 1.0), None)


@pytest.mark.parametrize(
    ("x_adv", "bound", "message"),
    [
        (np.where(np.arange(12).reshape(3, 2, 2, 1) == 0, np.nan, X), None,
         "1 of 3 adversarial examples are not finite"),
        (X + 0.6, None, "3 of 3 adversarial examples leave the data range [0, 1] (by up to 0.1)"),
        (X + 0.2, ("inf", 0.1),
         "3 of 3 adversarial examples exceed eps=0.1 in the Linf norm (by up to 0.1)"),
        (X + 0.1, (2, 0.1),
         "3 of 3 adversarial examples exceed eps=0.1 in the L2 norm (by up to 0.1)"),
        (X[:2], None, "adversarial batch has shape (2, 2, 2, 1), expected (3, 2, 2, 1)"),
    ],
)
def test_violations_fail(x_adv, bound, message):
    with pytest.raises(AttackCheckError) as exc:
        check_adversarial(X, x_adv.astype(np.float32), (0.0, 1.0), bound)
    assert str(exc.value) == message


def test_float_rounding_within_tolerance_passes():
    check_adversarial(X, X + np.float32(0.1) + 1e-7, (0.0, 1.0), ("inf", 0.1))


@pytest.mark.parametrize(
    ("bound", "message"),
    [
        (("inf", float("nan")), "bound() returned eps=nan: eps must be a finite number >= 0"),
        (("inf", np.float32("nan")), "bound() returned eps=nan: eps must be a finite number >= 0"),
        ((2, float("inf")), "bound() returned eps=inf: eps must be a finite number >= 0"),
        (("inf", -0.1), "bound() returned eps=-0.1: eps must be a finite number >= 0"),
        (("inf", True), "bound() returned eps=True: eps must be a finite number >= 0"),
        (("inf", "0.1"), "bound() returned eps='0.1': eps must be a finite number >= 0"),
        (("l3", 0.1), "bound() returned an unknown norm 'l3': expected 'inf', 0, 1 or 2"),
        ((3, 0.1), "bound() returned an unknown norm 3: expected 'inf', 0, 1 or 2"),
        ((None, 0.1), "bound() returned an unknown norm None: expected 'inf', 0, 1 or 2"),
        (0.1, "bound() must return (norm, eps) or None, got 0.1"),
        (("inf", 0.1, 2), "bound() must return (norm, eps) or None, got ('inf', 0.1, 2)"),
    ],
)
def test_malformed_bound_fails_instead_of_skipping_the_check(bound, message):
    """A NaN eps used to make every comparison False: the eps check was silently skipped."""
    with pytest.raises(AttackCheckError) as exc:
        check_adversarial(X, X + 0.5, (0.0, 1.0), bound)
    assert str(exc.value) == message


@pytest.mark.parametrize("bound", [(np.inf, 0.1), (2.0, 0.2), (np.int64(2), 0.2), [1, 0.4],
                                   ("inf", np.float32(0.1)), ("inf", 0)])
def test_numeric_spellings_of_a_bound_are_accepted(bound):
    check_adversarial(X, X, (0.0, 1.0), bound)
