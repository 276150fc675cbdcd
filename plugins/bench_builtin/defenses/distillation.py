"""Defensive distillation (Papernot et al. 2016).

1. Train a teacher at temperature T on the hard labels.
2. Label the training set with the teacher's soft probabilities softmax(Z / T).
3. Train a student of the same architecture at temperature T on those soft labels.
4. Deploy the student at temperature 1: its logits are used as they are.

The teacher is cached like every network; a teacher at T = 1 is the undefended model itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from bench.interfaces import Defense, DefenseTraits, Params, Trainer
from bench.numerics import softmax


class DistillationParams(Params):
    temperature: float = Field(default=100.0, gt=0)


def soft_labels(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T), computed stably in float64, returned as float32."""
    return softmax(logits, temperature).astype(np.float32)


class Distillation(Defense):
    name = "distillation"
    version = "1.0.0"
    description = "Defensive distillation at temperature T (teacher and student cached)"
    Params = DistillationParams

    def apply(self, trainer: Trainer) -> Any:
        t = float(self.params.temperature)  # type: ignore[attr-defined]
        data = trainer.train_data
        teacher = (trainer.undefended() if t == 1.0
                   else trainer.train(trainer.one_hot(data.y), t, {"labels": "hard"}))
        soft = soft_labels(trainer.predict_logits(teacher, data.x), t)
        return trainer.train(soft, t, {"labels": "soft", "teacher": trainer.key_of(teacher)})

    def traits(self) -> DefenseTraits:
        return DefenseTraits(kind="training", sweep="temperature", sweep_origin=1.0)
