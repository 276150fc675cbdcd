from __future__ import annotations

import numpy as np
import pytest

from bench.errors import ConfigError
from bench.targets import check_target, compute_targets

Y = np.array([0, 1, 2, 3, 4, 0, 1, 2])
LOGITS = np.tile(np.array([[5.0, 4.0, 3.0, 2.0, 1.0]]), (8, 1))


def test_fixed_next_least_likely():
    assert compute_targets(None, Y, LOGITS, 5, 0) is None
    assert compute_targets(3, Y, LOGITS, 5, 0).tolist() == [3] * 8
    assert compute_targets("next", Y, LOGITS, 5, 0).tolist() == [1, 2, 3, 4, 0, 1, 2, 3]
    assert compute_targets("least-likely", Y, LOGITS, 5, 0).tolist() == [4] * 8


def test_random_is_seeded_and_never_the_label():
    y = np.random.default_rng(1).integers(0, 10, 2000)
    a = compute_targets("random", y, np.zeros((2000, 10)), 10, 7)
    b = compute_targets("random", y, np.zeros((2000, 10)), 10, 7)
    assert (a == b).all() and (a != y).all()
    assert set(np.unique(a)) == set(range(10))


def test_target_out_of_range():
    with pytest.raises(ConfigError) as exc:
        check_target(46, 10, "s.yaml: attack fgsm")
    assert str(exc.value) == ("s.yaml: attack fgsm: target class 46 is out of range "
                              "(the dataset has classes 0..9)")
