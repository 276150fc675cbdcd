"""compute_targets / check_target: exact targets, dtypes and range edges."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import ConfigError
from bench.targets import check_target, compute_targets

Y32 = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], np.int32)  # int32 labels: targets are int64
LOGITS = np.array([[5.0, 1.0, 3.0, 4.0, 2.0]] * 10)


@pytest.mark.parametrize("spec", [0, 4, None, "random", "least-likely", "next"])
def test_valid_targets_pass(spec):
    check_target(spec, 5, "s.yaml: attack a")


@pytest.mark.parametrize("spec", [-1, 5])
def test_targets_out_of_range_fail(spec):
    with pytest.raises(ConfigError) as exc:
        check_target(spec, 5, "s.yaml: attack a")
    assert str(exc.value) == (f"s.yaml: attack a: target class {spec} is out of range "
                              "(the dataset has classes 0..4)")


def test_exact_targets_and_int64():
    seeded = compute_targets("random", Y32, LOGITS, 5, 3)
    # (y + offset) % 5 with offset in 1..4 from default_rng(3): pinned
    assert seeded.tolist() == [4, 2, 3, 4, 0, 4, 0, 0, 4, 0]
    assert ((seeded - Y32) % 5).tolist() == [4, 1, 1, 1, 1, 4, 4, 3, 1, 1]
    for spec, expected in ((2, [2] * 10), ("least-likely", [1] * 10),
                           ("next", [1, 2, 3, 4, 0, 1, 2, 3, 4, 0]), ("random", None)):
        out = compute_targets(spec, Y32, LOGITS, 5, 3)
        assert out.dtype == np.int64 and out.shape == (10,)
        if expected is not None:
            assert out.tolist() == expected


def test_unknown_target_is_a_config_error():
    with pytest.raises(ConfigError) as exc:
        compute_targets("farthest", Y32, LOGITS, 5, 0)  # type: ignore[arg-type]
    assert str(exc.value) == "unknown target 'farthest'"
