"""A -p plugin as a third party would write it: an L-infinity PGD attack (own code, no ART)
that declares its traits, so that flags and figures treat it like a built-in."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from bench import hookimpl
from bench.interfaces import Attack, AttackOutput, AttackParams, AttackTraits


class TpPgdParams(AttackParams):
    epsilon: float = Field(0.1, ge=0)
    step: float = Field(0.02, gt=0)
    steps: int = Field(5, gt=0)


class TpPgd(Attack):
    name = "tp-pgd"
    version = "0.1.0"
    description = "third-party PGD (L-infinity, cross-entropy, no random start)"
    Params = TpPgdParams

    def bound(self) -> tuple[float | str, float]:
        return ("inf", self.params.epsilon)  # type: ignore[attr-defined]

    def traits(self) -> AttackTraits:
        p: Any = self.params
        return AttackTraits(norm="inf", eps=p.epsilon, iterative=True, targeted=self.targeted,
                            loss="ce", budget_params=("epsilon", "step"))

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: Any,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        import tensorflow as tf

        p: Any = self.params
        x0 = tf.constant(x)
        adv = tf.identity(x0)
        labels = tf.constant(y)
        for _ in range(p.steps):
            with tf.GradientTape() as tape:
                tape.watch(adv)
                loss = tf.keras.losses.sparse_categorical_crossentropy(
                    labels, model(adv, training=False), from_logits=True)
            grad = tape.gradient(loss, adv)
            adv = adv + p.step * tf.sign(grad)
            adv = tf.clip_by_value(tf.clip_by_value(adv, x0 - p.epsilon, x0 + p.epsilon),
                                   *clip_values)
        return AttackOutput(adv.numpy().astype(x.dtype))


@hookimpl
def bench_register_attacks() -> list[type[Attack]]:
    return [TpPgd]
