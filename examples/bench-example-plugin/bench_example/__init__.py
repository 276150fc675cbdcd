"""An example third-party artbench plugin: a uniform random-noise attack (a baseline).

Install it with pip; artbench finds it through the ``artbench`` entry-point group.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from bench import hookimpl
from bench.interfaces import Attack, AttackOutput, AttackParams

__version__ = "0.1.0"


class NoiseParams(AttackParams):
    eps: float = Field(default=0.1, ge=0, description="L-infinity size of the noise")
    seed: int = Field(default=0, ge=0)


class UniformNoise(Attack):
    """Adds uniform noise in [-eps, eps] to every pixel: what an attack must beat."""

    name = "noise"
    version = __version__
    description = "Uniform random noise in the L-infinity ball (baseline)"
    Params = NoiseParams

    def bound(self) -> tuple[str, float]:
        return ("inf", self.params.eps)

    def generate(self, model, x, y, targets, clip_values, num_classes) -> AttackOutput:
        rng = np.random.default_rng(self.params.seed)
        noise = rng.uniform(-self.params.eps, self.params.eps, size=x.shape).astype(x.dtype)
        return AttackOutput(np.clip(x + noise, *clip_values))


@hookimpl
def bench_register_attacks():
    return [UniformNoise]
