"""Attacks wrapping the Adversarial Robustness Toolbox (ART) on a logits Keras model.

Every ART hyper-parameter a user would tune is a validated parameter with ART's own default.
The classifier is ART's ``TensorFlowV2Classifier`` on the logits, ``clip_values`` always set.
"""

from __future__ import annotations

import weakref
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from bench.interfaces import Attack, AttackOutput, AttackParams
from bench.traits import AttackTraits

#: one ART classifier per (model, classes, input shape, clip values), reused by every batch and
#: cell on that model: a new classifier traces its tf.function forward pass again (seconds per
#: cell, and TensorFlow's retracing warnings)
_CLASSIFIERS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary())


def art_classifier(model: Any, num_classes: int, input_shape: tuple[int, ...],
                   clip_values: tuple[float, float]) -> Any:
    """ART's TensorFlow 2 classifier on a Keras logits model (cached per model)."""
    import tensorflow as tf
    from art.estimators.classification import TensorFlowV2Classifier

    key = (num_classes, tuple(input_shape), tuple(float(c) for c in clip_values))
    per_model = _CLASSIFIERS.setdefault(model, {})
    if key not in per_model:
        per_model[key] = TensorFlowV2Classifier(
            model=model,
            nb_classes=num_classes,
            input_shape=input_shape,
            loss_object=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
            clip_values=clip_values,
        )
    return per_model[key]


class _ArtAttack(Attack):
    """Builds the ART attack from ``art_kwargs()`` and runs ``generate`` on NumPy arrays."""

    art_class: ClassVar[str]
    #: whether the ART class takes ``verbose`` (it then always gets False: we show progress)
    art_verbose: ClassVar[bool] = True
    #: whether the ART class takes ``targeted`` (False: it is untargeted only, and the Params
    #: refuse a target)
    art_targeted: ClassVar[bool] = True

    def art_kwargs(self) -> dict[str, Any]:
        kwargs = self.params.model_dump(exclude={"target"})
        if self.art_targeted:
            kwargs["targeted"] = self.targeted
        if self.art_verbose:
            kwargs["verbose"] = False
        return kwargs

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        from art.attacks import evasion

        classifier = art_classifier(model, num_classes, tuple(x.shape[1:]), clip_values)
        attack = getattr(evasion, self.art_class)(classifier, **self.art_kwargs())
        labels = targets if targets is not None else y
        one_hot = np.eye(num_classes, dtype=np.float32)[labels]
        x_adv = attack.generate(x=x.astype(np.float32), y=one_hot)
        return AttackOutput(np.asarray(x_adv, dtype=np.float32),
                            info={"art_class": self.art_class})


class FgsmParams(AttackParams):
    eps: float = Field(default=0.3, ge=0)
    norm: Literal["inf", 1, 2] = "inf"
    eps_step: float = Field(default=0.1, gt=0, description="step of the minimal search")
    num_random_init: int = Field(default=0, ge=0)
    minimal: bool = False
    batch_size: int = Field(default=32, gt=0)


class Fgsm(_ArtAttack):
    name = "fgsm"
    version = "1.0.0"
    description = "Fast Gradient Sign Method (Goodfellow et al. 2015), ART FastGradientMethod"
    Params = FgsmParams
    art_class = "FastGradientMethod"
    art_verbose = False

    def art_kwargs(self) -> dict[str, Any]:
        kwargs = super().art_kwargs()
        kwargs["norm"] = np.inf if kwargs["norm"] == "inf" else kwargs["norm"]
        return kwargs

    def bound(self) -> tuple[float | str, float]:
        p: Any = self.params
        return (p.norm, p.eps)

    def traits(self) -> AttackTraits:
        p: Any = self.params
        return AttackTraits(norm=p.norm, eps=p.eps, iterative=False, targeted=self.targeted,
                            loss="ce", budget_params=("eps", "eps_step"))


class BimParams(AttackParams):
    eps: float = Field(default=0.3, ge=0)
    eps_step: float = Field(default=0.1, gt=0)
    max_iter: int = Field(default=100, gt=0)
    batch_size: int = Field(default=32, gt=0)


class Bim(_ArtAttack):
    name = "bim"
    version = "1.0.0"
    description = "Basic Iterative Method / I-FGSM (Kurakin et al. 2016), ART BasicIterativeMethod"
    Params = BimParams
    art_class = "BasicIterativeMethod"

    def bound(self) -> tuple[float | str, float]:
        p: Any = self.params
        return ("inf", p.eps)

    def traits(self) -> AttackTraits:
        p: Any = self.params
        return AttackTraits(norm="inf", eps=p.eps, targeted=self.targeted, loss="ce",
                            budget_params=("eps", "eps_step"), effort_params=("max_iter",))


class CwL2Params(AttackParams):
    confidence: float = Field(default=0.0, ge=0)
    learning_rate: float = Field(default=0.01, gt=0)
    binary_search_steps: int = Field(default=10, ge=1)
    max_iter: int = Field(default=10, ge=1)
    initial_const: float = Field(default=0.01, gt=0)
    max_halving: int = Field(default=5, ge=1)
    max_doubling: int = Field(default=5, ge=1)
    batch_size: int = Field(default=1, gt=0)


class CwL2(_ArtAttack):
    name = "cw-l2"
    version = "1.0.0"
    description = "Carlini & Wagner L2 (ART CarliniL2Method)"
    Params = CwL2Params
    art_class = "CarliniL2Method"

    def traits(self) -> AttackTraits:
        return AttackTraits(norm=2, targeted=self.targeted, loss="margin",
                            effort_params=("max_iter", "binary_search_steps"))


class CwLinfParams(AttackParams):
    confidence: float = Field(default=0.0, ge=0)
    learning_rate: float = Field(default=0.01, gt=0)
    max_iter: int = Field(default=10, ge=1)
    decrease_factor: float = Field(default=0.9, gt=0, lt=1)
    initial_const: float = Field(default=1e-5, gt=0)
    largest_const: float = Field(default=20.0, gt=0)
    const_factor: float = Field(default=2.0, gt=1)
    batch_size: int = Field(default=1, gt=0)


class CwLinf(_ArtAttack):
    name = "cw-linf"
    version = "1.0.0"
    description = "Carlini & Wagner L-infinity (ART CarliniLInfMethod)"
    Params = CwLinfParams
    art_class = "CarliniLInfMethod"

    def traits(self) -> AttackTraits:
        return AttackTraits(norm="inf", targeted=self.targeted, loss="margin",
                            effort_params=("max_iter",))


ATTACKS: list[type[Attack]] = [Fgsm, Bim, CwL2, CwLinf]
