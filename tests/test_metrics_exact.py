"""cell_metrics and softmax, every output checked against numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bench.results.metrics import cell_metrics, softmax


def test_softmax_values_rows_and_stability():
    p = softmax(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0], [-1000.0, 0.0]], np.float32))
    np.testing.assert_allclose(p, [[0.25, 0.75], [0.5, 0.5], [0.0, 1.0]], atol=1e-12)
    # each row is shifted by its own max: a row of small logits next to a row of huge ones
    q = softmax(np.array([[2000.0, 0.0], [0.0, np.log(3.0)]]))
    np.testing.assert_allclose(q, [[1.0, 0.0], [0.25, 0.75]], atol=1e-12)


LOG4 = float(np.log(4.0))


def onehot_logits(pred, k=3, scale=LOG4):
    """Logits whose softmax puts 2/3 on ``pred`` (k = 3: e^s / (e^s + 2) = 4 / 6)."""
    z = np.zeros((len(pred), k), np.float32)
    z[np.arange(len(pred)), pred] = scale
    return z


X = np.full((4, 1, 2, 1), 0.5, np.float32)


def test_every_metric_and_per_sample_array_untargeted():
    x_adv = X.copy()
    x_adv[0, 0, 0, 0] = 0.8  # +0.3 on one pixel
    x_adv[1, 0, :, 0] = 0.1  # -0.4 on two pixels
    y = np.array([0, 1, 2, 2])
    clean = onehot_logits([0, 1, 2, 0])  # sample 3 already wrong
    clean[3, 0] = np.log(8.0)  # its clean confidence is 8 / 10
    adv = onehot_logits([1, 2, 2, 1])
    m, per = cell_metrics(X, x_adv, y, clean, adv, None)
    l2_1 = 0.4 * np.sqrt(2)
    assert m.pop("success_denominator_is") == "correctly classified clean samples"
    assert m == pytest.approx({
        "samples": 4, "clean_accuracy": 0.75, "adv_accuracy": 0.25, "success_rate": 2 / 3,
        "success_count": 2, "success_denominator": 3,
        "adv_confidence_mean": 2 / 3,
        "l0_mean": 1.5, "l0_median": 1.5, "l2_mean": (0.3 + l2_1) / 2,
        "l2_median": (0.3 + l2_1) / 2, "linf_mean": 0.35, "linf_median": 0.35,
    }, rel=1e-6)
    assert set(per) == {"y", "clean_pred", "adv_pred", "success", "eligible", "l0", "l2",
                        "linf", "adv_confidence", "clean_confidence"}
    assert per["y"] is y
    assert per["clean_pred"].tolist() == [0, 1, 2, 0]
    assert per["adv_pred"].tolist() == [1, 2, 2, 1]
    assert per["success"].tolist() == [True, True, False, False]
    assert per["eligible"].tolist() == [True, True, True, False]
    assert per["l0"].tolist() == [1, 2, 0, 0]
    np.testing.assert_allclose(per["l2"], [0.3, l2_1, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(per["linf"], [0.3, 0.4, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(per["adv_confidence"], [2 / 3] * 4, rtol=1e-6)
    np.testing.assert_allclose(per["clean_confidence"], [2 / 3] * 3 + [0.8], rtol=1e-6)


def test_every_metric_targeted():
    y = np.array([0, 1, 2, 2])
    targets = np.array([2, 2, 2, 0])
    clean = onehot_logits([0, 1, 2, 2])
    adv = onehot_logits([2, 0, 2, 2], scale=np.log(8.0))  # confidence 8 / 10
    x_adv = X.copy()
    x_adv[0] = 0.4
    m, per = cell_metrics(X, x_adv, y, clean, adv, targets)
    assert m.pop("success_denominator_is") == "samples whose label is not the target"
    assert m == pytest.approx({
        "samples": 4, "clean_accuracy": 1.0, "adv_accuracy": 0.5, "success_rate": 1 / 3,
        "success_count": 1, "success_denominator": 3,
        "adv_confidence_mean": 0.8, "predicted_as_target": 2,
        "l0_mean": 2.0, "l0_median": 2.0, "l2_mean": 0.1 * np.sqrt(2),
        "l2_median": 0.1 * np.sqrt(2), "linf_mean": 0.1, "linf_median": 0.1,
    }, rel=1e-6)
    assert per["target"] is targets
    assert per["success"].tolist() == [True, False, False, False]
    assert per["eligible"].tolist() == [True, True, False, True]


def test_no_eligible_sample_gives_none():
    y = np.array([0, 1])
    m, _ = cell_metrics(X[:2], X[:2], y, onehot_logits([1, 0]), onehot_logits([1, 0]), None)
    assert m["success_denominator"] == 0 and m["success_rate"] is None
    assert m["l2_median"] is None and m["adv_confidence_mean"] is None
    assert m["clean_accuracy"] == 0.0
