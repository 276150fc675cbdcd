"""Random noise at the budget: the baseline every attack must beat (Carlini et al. 2019, "On
Evaluating Adversarial Robustness": an attack that does worse than random noise at the same
budget is broken, or the model masks its gradients). Flag ``noise-beats-attack``.

L-inf: uniform in the ball; L2: on the sphere of radius eps (uniform direction). ``restarts``
draws several times and keeps, per sample, the first draw that fools the model. Draws are
seeded per sample (seed, restart, the sample's bytes): the same example whatever the batch.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from bench.interfaces import Attack, AttackOutput, AttackParams, AttackTraits
from bench.numerics import sample_rng


class RandomNoise(Attack):
    name = "random-noise"
    version = "1.0.0"
    description = "Uniform random noise at the budget (L-inf ball or L2 sphere): the baseline"

    class Params(AttackParams):
        eps: float = Field(0.3, gt=0, description="radius")
        norm: Literal["inf", 2] = "inf"
        restarts: int = Field(10, gt=0, description="draws per sample; the first that fools "
                              "the model is kept")
        seed: int = 0

    params: RandomNoise.Params

    def bound(self) -> tuple[str | float, float]:
        return (self.params.norm, self.params.eps)

    def traits(self) -> AttackTraits:
        p = self.params
        return AttackTraits(norm=p.norm, eps=p.eps, iterative=False, gradient_free=True,
                            random_noise=True, targeted=self.targeted, budget_params=("eps",),
                            effort_params=("restarts",))

    def _draw(self, xi: np.ndarray, restart: int) -> np.ndarray:
        p = self.params
        rng = sample_rng(p.seed, restart, xi)
        if p.norm == "inf":
            return rng.uniform(-p.eps, p.eps, xi.shape)
        g = rng.standard_normal(xi.shape)
        return g / max(float(np.linalg.norm(g)), 1e-12) * p.eps

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        lo, hi = clip_values
        out = np.array(x, dtype=np.float32, copy=True)
        done = np.zeros(len(x), bool)
        goal = targets if targets is not None else y
        for restart in range(self.params.restarts):
            todo = np.flatnonzero(~done)
            if not len(todo):
                break
            cand = np.clip(x[todo] + np.stack([self._draw(x[i], restart) for i in todo]),
                           lo, hi).astype(np.float32)
            pred = np.asarray(model(cand, training=False)).argmax(axis=1)
            hit = pred == goal[todo] if targets is not None else pred != goal[todo]
            out[todo] = cand  # the last draw when none fools it
            done[todo[hit]] = True
        return AttackOutput(out, done)
