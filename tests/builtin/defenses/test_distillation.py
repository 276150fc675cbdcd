"""Defensive distillation's recipe, with a fake trainer: teacher and student both at T."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bench_builtin.defenses.distillation import Distillation, soft_labels

from bench.interfaces import DataSplit, Trainer

Y = np.array([0, 1, 2, 1])
LOGITS = np.array([[4.0, 1.0, -2.0], [0.0, 3.0, 1.0], [1.0, 1.0, 2.0], [0.5, 0.0, 0.0]],
                  np.float32)


class FakeTrainer(Trainer):
    """Records every train() call; 'networks' are strings; the teacher predicts LOGITS."""

    def __init__(self) -> None:
        self.train_data = DataSplit(np.zeros((4, 2, 2, 1), np.float32), Y, 3, ("a", "b", "c"),
                                    "fake")
        self.calls: list[tuple[np.ndarray, float, dict[str, Any]]] = []

    def one_hot(self, y: np.ndarray) -> np.ndarray:
        return np.eye(3, dtype=np.float32)[y]

    def train(self, targets: np.ndarray, temperature: float, role: dict[str, Any]) -> Any:
        self.calls.append((targets, temperature, role))
        return f"net{len(self.calls)}"

    def key_of(self, model: Any) -> str:
        return f"key-of-{model}"

    def predict_logits(self, model: Any, x: np.ndarray) -> np.ndarray:
        assert model == "net1" and x is self.train_data.x  # the teacher, on the training set
        return LOGITS


@pytest.mark.parametrize("t", [10.0, 100.0])
def test_teacher_and_student_train_at_t_student_on_soft_labels(t):
    trainer = FakeTrainer()
    deployed = Distillation(Distillation.Params(temperature=t)).apply(trainer)
    assert deployed == "net2"  # the student is deployed
    (hard, t_teacher, teacher_role), (soft, t_student, student_role) = trainer.calls
    assert (t_teacher, t_student) == (t, t)
    np.testing.assert_array_equal(hard, np.eye(3)[Y])
    assert teacher_role == {"labels": "hard"}
    assert student_role == {"labels": "soft", "teacher": "key-of-net1"}
    z = LOGITS.astype(np.float64) / t
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(soft, expected, rtol=1e-6)
    assert soft.dtype == np.float32


def test_soft_labels_are_stable_at_low_temperature():
    p = soft_labels(np.array([[1000.0, 0.0, -1000.0]]), 0.5)
    assert np.isfinite(p).all() and p[0].tolist() == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(soft_labels(np.array([[0.0, np.log(3.0)]]), 1.0), [[0.25, 0.75]],
                               rtol=1e-6)
