"""Minimum-norm ART attacks: DeepFool (gradient, L2) and HopSkipJump (decision-based).

Neither promises a budget (``bound()`` None, ``traits().eps`` None): each looks for the
smallest perturbation that changes the decision, and robust accuracy at a threat model counts
its successes whose norm is within eps. Every ART hyper-parameter a user would tune is a
validated parameter with ART's default unless a comment says why.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from bench.interfaces import AttackOutput, AttackParams, AttackTraits
from bench_builtin.attacks.art import _ArtAttack, art_classifier
from bench_builtin.attacks.art_bounded import art_norm, seeded, untargeted_only


class DeepFoolParams(AttackParams):
    max_iter: int = Field(default=100, gt=0)
    epsilon: float = Field(default=1e-6, ge=0, description="overshoot: the final perturbation "
                           "is (1 + epsilon) times the one found (Moosavi-Dezfooli et al.: 0.02)")
    nb_grads: int = Field(default=10, gt=1, description="class gradients per step: the top "
                          "nb_grads classes (fewer than the classes: the union of every "
                          "sample's top classes in the call, so then batch-dependent)")
    batch_size: int = Field(default=1, gt=0)

    @field_validator("target")
    @classmethod
    def _untargeted(cls, v: Any) -> Any:
        return untargeted_only("deepfool", v)


class DeepFool(_ArtAttack):
    name = "deepfool"
    version = "1.0.0"
    description = ("DeepFool (Moosavi-Dezfooli et al. 2016): minimum-norm L2 by linearising "
                   "the decision boundaries of the logits; ART DeepFool")
    Params = DeepFoolParams
    art_class = "DeepFool"
    art_targeted = False  # untargeted only (refused in Params)

    def traits(self) -> AttackTraits:
        # it steps across the nearest linearised boundary between logits: a margin, read on
        # the logits (no softmax to saturate)
        return AttackTraits(norm=2, targeted=False, loss="margin", effort_params=("max_iter",))


class HopSkipJumpParams(AttackParams):
    norm: Literal[2, "inf"] = 2
    max_iter: int = Field(default=50, ge=0, description="iterations of gradient estimation, "
                          "step and binary search")
    max_eval: int = Field(default=10000, gt=0, description="most queries per gradient estimate")
    init_eval: int = Field(default=100, gt=0, description="first queries per gradient estimate")
    init_size: int = Field(default=100, gt=0, description="random trials for the first "
                           "adversarial point (a sample where all fail is returned unchanged)")
    batch_size: int = Field(default=64, gt=0)
    seed: int = Field(default=0, description="seed of the random trials and directions")


class HopSkipJump(_ArtAttack):
    name = "hop-skip-jump"
    version = "1.0.0"
    description = ("HopSkipJump (Chen et al. 2020): decision-based (labels only), minimum "
                   "norm, L2 or L-inf; ART HopSkipJump")
    Params = HopSkipJumpParams
    art_class = "HopSkipJump"

    def art_kwargs(self) -> dict[str, Any]:
        kwargs = super().art_kwargs()
        kwargs.pop("seed")
        kwargs["norm"] = art_norm(kwargs["norm"])
        return kwargs

    def traits(self) -> AttackTraits:
        p: Any = self.params
        return AttackTraits(norm=p.norm, gradient_free=True, targeted=self.targeted,
                            effort_params=("max_iter",))

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        """ART's HopSkipJump one sample at a time (as ART runs it), seeded by ``seed`` and the
        sample's content: the same example whatever the batch. ART draws its starting point
        from an unseeded ``RandomState``, so the start is drawn here the same way (uniform
        images in the data range, the first one that is adversarial) and handed to ART."""
        from art.attacks.evasion import HopSkipJump as ArtHopSkipJump

        p: Any = self.params
        classifier = art_classifier(model, num_classes, tuple(x.shape[1:]), clip_values)
        attack = ArtHopSkipJump(classifier, **self.art_kwargs())
        x = np.array(x, dtype=np.float32)
        pred = classifier.predict(x, batch_size=p.batch_size).argmax(axis=1)
        labels = targets if targets is not None else y
        x_adv, no_start = x.copy(), 0
        for i in range(len(x)):
            if targets is not None and pred[i] == targets[i]:
                continue  # already the target (ART returns it unchanged too)
            rng = np.random.default_rng([p.seed, zlib.crc32(x[i].tobytes())])
            start = self._start(classifier, rng, x[i], pred[i],
                                None if targets is None else int(targets[i]), clip_values)
            if start is None:
                no_start += 1
                continue
            with seeded(int(rng.integers(2**32))):
                x_adv[i] = attack.generate(x[i : i + 1], y=np.eye(num_classes)[labels[i : i + 1]],
                                           x_adv_init=start[None])[0]
        return AttackOutput(x_adv, info={"art_class": self.art_class, "no_start": no_start})

    def _start(self, classifier: Any, rng: np.random.Generator, x: np.ndarray, pred: int,
               target: int | None, clip: tuple[float, float]) -> np.ndarray | None:
        """The first of ``init_size`` uniform random images that is adversarial, or None."""
        p: Any = self.params
        for lo in range(0, p.init_size, p.batch_size):
            n = min(p.batch_size, p.init_size - lo)
            trials = rng.uniform(clip[0], clip[1], (n, *x.shape)).astype(np.float32)
            cls = classifier.predict(trials, batch_size=p.batch_size).argmax(axis=1)
            hit = np.flatnonzero(cls == target if target is not None else cls != pred)
            if hit.size:
                return trials[hit[0]]
        return None


ATTACKS: list[type[_ArtAttack]] = [DeepFool, HopSkipJump]
