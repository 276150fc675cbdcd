from __future__ import annotations

import numpy as np
import pytest

from bench.results.metrics import cell_metrics


def logits_for(pred, k=4):
    z = np.zeros((len(pred), k), np.float32)
    z[np.arange(len(pred)), pred] = 5.0
    return z


def test_untargeted_success_counts_only_correct_clean_samples():
    x = np.zeros((4, 2, 2, 1), np.float32)
    x_adv = x.copy()
    x_adv[0, 0, 0, 0] = 0.3  # sample 0: one pixel by 0.3
    x_adv[1] = 0.1  # sample 1: four pixels by 0.1
    y = np.array([0, 1, 2, 3])
    clean = logits_for([0, 1, 2, 0])  # sample 3 misclassified already
    adv = logits_for([1, 0, 2, 1])  # 0 and 1 flipped, 2 held, 3 stays wrong
    m, per = cell_metrics(x, x_adv, y, clean, adv, None)
    assert m["clean_accuracy"] == 0.75
    assert m["adv_accuracy"] == 0.25
    assert m["success_denominator"] == 3 and m["success_count"] == 2
    assert m["success_rate"] == pytest.approx(2 / 3)
    assert m["l0_mean"] == pytest.approx((1 + 4) / 2)
    assert m["l2_median"] == pytest.approx((0.3 + 0.2) / 2)
    assert m["linf_mean"] == pytest.approx((0.3 + 0.1) / 2)
    assert per["success"].tolist() == [True, True, False, False]


def test_targeted_success_is_prediction_equal_to_target_among_other_labels():
    x = np.zeros((4, 1, 1, 1), np.float32)
    y = np.array([0, 1, 2, 3])
    targets = np.full(4, 3)
    clean = logits_for([0, 1, 2, 3])
    adv = logits_for([3, 2, 3, 3])
    m, _ = cell_metrics(x, x, y, clean, adv, targets)
    assert m["success_denominator"] == 3  # sample 3's label is the target
    assert m["success_count"] == 2
    assert m["predicted_as_target"] == 3
    assert m["success_denominator_is"] == "samples whose label is not the target"


def test_no_success_gives_none_norms():
    x = np.zeros((2, 1, 1, 1), np.float32)
    y = np.array([0, 1])
    m, _ = cell_metrics(x, x, y, logits_for([0, 1]), logits_for([0, 1]), None)
    assert m["success_rate"] == 0.0
    assert m["l2_mean"] is None and m["adv_confidence_mean"] is None


def test_medians_are_medians_not_means():
    """Three successful samples whose norms' median and mean differ (1 vs 2 pixels + 10)."""
    x = np.zeros((4, 4, 4, 1), np.float32)
    x_adv = x.copy()
    x_adv[0, 0, 0, 0] = 0.1  # l0 1, l2 0.1, linf 0.1
    x_adv[1, 0, :2, 0] = 0.2  # l0 2, l2 0.2 * sqrt(2), linf 0.2
    x_adv[2] = 0.9  # l0 16, l2 0.9 * 4, linf 0.9
    x_adv[3] = 0.5  # not a success: left out of every statistic
    y = np.array([0, 1, 2, 3])
    clean = logits_for([0, 1, 2, 3])
    adv = logits_for([1, 2, 3, 3])
    m, _ = cell_metrics(x, x_adv, y, clean, adv, None)
    assert m["success_count"] == 3
    assert m["l0_median"] == 2.0 and m["l0_mean"] == pytest.approx(19 / 3)
    assert m["l2_median"] == pytest.approx(0.2 * np.sqrt(2))
    assert m["l2_mean"] == pytest.approx((0.1 + 0.2 * np.sqrt(2) + 3.6) / 3)
    assert m["linf_median"] == pytest.approx(0.2)
    assert m["linf_mean"] == pytest.approx(1.2 / 3)
