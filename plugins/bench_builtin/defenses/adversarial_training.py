"""PGD adversarial training (Madry et al. 2018), written on the public training hook only.

Every training batch is replaced by PGD adversarial examples crafted against the network being
trained (``clean_fraction`` of each batch may stay clean: 0 is Madry's recipe, 0.5 Goodfellow's
mix). The PGD runs inside the compiled training step (:class:`bench.batches.BatchTransform`),
so its parameters are part of the network's cache key like the model's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from bench.batches import BatchTransform
from bench.interfaces import UNDEFENDED, Defense, DefenseTraits, Params, Trainer


class AdversarialTrainingParams(Params):
    eps: float = Field(default=0.1, gt=0, description="training radius (in the data's units)")
    norm: Literal["inf", 2] = Field(default="inf", description="norm of the training ball")
    steps: int = Field(default=7, gt=0, description="PGD steps per batch (Madry: 40 on MNIST)")
    step_size: float | None = Field(
        default=None, gt=0, description="PGD step; default 2.5 * eps / steps (Madry et al.)")
    random_start: bool = Field(default=True, description="start PGD at a random point of the "
                               "ball (Madry et al.); off trains on I-FGSM examples")
    clean_fraction: float = Field(default=0.0, ge=0, lt=1, description="fraction of each batch "
                                  "kept clean (0: adversarial only, as Madry et al.)")


@dataclass(frozen=True)
class PgdBatches(BatchTransform):
    """Replace (a fraction of) every batch by PGD examples against the current network."""

    eps: float
    norm: str | int
    steps: int
    step_size: float
    random_start: bool
    clean_fraction: float
    clip_values: tuple[float, float]

    def __call__(self, model: Any, x: Any, targets: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        from bench_builtin.native.pgd import pgd_graph

        lo, hi = (tf.constant(float(c)) for c in self.clip_values)
        adv = pgd_graph(model, x, targets, tf.constant(self.eps, tf.float32),
                        tf.constant(self.step_size, tf.float32), self.steps, lo, hi,
                        norm=self.norm, loss="ce", random_start=self.random_start)
        if self.clean_fraction:
            n = tf.shape(x)[0]
            keep = tf.cast(tf.round(tf.cast(n, tf.float32) * self.clean_fraction), tf.int32)
            adv = tf.concat([x[:keep], adv[keep:]], axis=0)
        return adv, targets


class AdversarialTraining(Defense):
    name = "adversarial-training"
    version = "1.0.0"
    description = "PGD adversarial training (Madry et al. 2018), compiled TF2"
    Params = AdversarialTrainingParams

    def transform(self, clip_values: tuple[float, float]) -> PgdBatches:
        p: Any = self.params
        step = p.step_size if p.step_size is not None else 2.5 * p.eps / p.steps
        return PgdBatches(eps=float(p.eps), norm=p.norm, steps=int(p.steps),
                          step_size=float(step), random_start=bool(p.random_start),
                          clean_fraction=float(p.clean_fraction),
                          clip_values=tuple(float(c) for c in clip_values))  # type: ignore[arg-type]

    def apply(self, trainer: Trainer) -> Any:
        data = trainer.train_data
        role = {**UNDEFENDED, "adversarial": "pgd"}
        return trainer.train(trainer.one_hot(data.y), 1.0, role,
                             transform=self.transform(data.clip_values))

    def traits(self) -> DefenseTraits:
        return DefenseTraits(kind="training", gradient="exact", sweep="eps", sweep_origin=0.0)
