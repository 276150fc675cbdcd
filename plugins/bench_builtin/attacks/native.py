"""Native TensorFlow 2 attacks: targeted I-FGSM and Carlini & Wagner L0 / L2 / L-infinity.

Thin plugin classes over :mod:`bench_builtin.native` (compiled, batched TF2 functions). The host
validates ``Params``, computes the per-sample ``targets`` from ``params.target`` and checks every
output. See ``docs/native-attacks.md`` for the design and the measured defaults.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from bench.interfaces import Attack, AttackOutput, AttackParams, AttackTraits


def _labels(y: np.ndarray, targets: np.ndarray | None) -> tuple[np.ndarray, bool]:
    return (np.asarray(y), False) if targets is None else (np.asarray(targets), True)


class IFgsm(Attack):
    name: ClassVar[str] = "ifgsm"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "Iterative FGSM as in the reference study (alpha = eps / iterations), native TF2; "
        "loss: cross-entropy, cross-entropy at temperature T, or the CW margin"
    )

    class Params(AttackParams):
        eps: float = Field(0.01, gt=0, description="L-inf radius (the study used 0.01)")
        iterations: int = Field(10, gt=0, description="number of steps (the study used 10)")
        alpha: float | None = Field(None, gt=0, description="step size; default eps / iterations")
        loss: Literal["ce", "ce-t", "margin"] = Field(
            "ce", description="ce: cross-entropy on the logits; ce-t: on logits / temperature; "
            "margin: Carlini-Wagner margin on the logits (breaks distilled models)")
        temperature: float = Field(100.0, gt=0, description="T for loss 'ce-t'")
        kappa: float = Field(0.0, ge=0, description="confidence for loss 'margin'")
        early_stop: bool = Field(
            False, description="stop a batch once every sample in it is adversarial (each keeps "
            "its adversarial iterate); off reproduces the study's formula exactly")
        batch_size: int = Field(256, gt=0)

    params: IFgsm.Params

    def bound(self) -> tuple[float | str, float] | None:
        return ("inf", self.params.eps)

    def traits(self) -> AttackTraits:
        p = self.params
        return AttackTraits(norm="inf", eps=p.eps, targeted=self.targeted,
                            loss="ce" if p.loss == "ce" else p.loss,
                            budget_params=("eps", "alpha"),
                            loss_params=("loss", "temperature", "kappa"),
                            effort_params=("iterations",))

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        from bench_builtin.native.ifgsm import ifgsm

        p = self.params
        labels, targeted = _labels(y, targets)
        alpha = p.alpha if p.alpha is not None else p.eps / p.iterations
        x_adv, ok = ifgsm(model, x, labels, num_classes, targeted=targeted, eps=p.eps,
                          iterations=p.iterations, alpha=alpha, loss=p.loss,
                          temperature=p.temperature, kappa=p.kappa, clip_values=clip_values,
                          batch_size=p.batch_size, early_stop=p.early_stop)
        return AttackOutput(x_adv, ok, {"alpha": alpha})


class Pgd(Attack):
    name: ClassVar[str] = "pgd-native"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "Projected gradient descent (Madry et al. 2018), L-inf or L2, random starts and "
        "restarts; loss: cross-entropy or the CW margin; native TF2")

    class Params(AttackParams):
        eps: float = Field(0.3, gt=0, description="radius of the ball")
        norm: Literal["inf", 2] = Field("inf", description="norm of the ball")
        steps: int = Field(40, gt=0, description="steps per restart (Madry et al.: 40 on MNIST)")
        step_size: float | None = Field(
            None, gt=0, description="step; default 2.5 * eps / steps (Madry et al.)")
        restarts: int = Field(1, gt=0, description="random restarts; a sample keeps the first "
                              "that fools the model")
        random_start: bool = Field(True, description="start at a uniform point of the ball")
        loss: Literal["ce", "margin"] = Field(
            "ce", description="ce: cross-entropy; margin: Carlini-Wagner margin on the logits")
        kappa: float = Field(0.0, ge=0, description="confidence for loss 'margin'")
        seed: int = Field(0, description="seed of the random starts")
        batch_size: int = Field(256, gt=0)

    params: Pgd.Params

    def bound(self) -> tuple[float | str, float] | None:
        return (self.params.norm, self.params.eps)

    def traits(self) -> AttackTraits:
        p = self.params
        return AttackTraits(norm=p.norm, eps=p.eps, targeted=self.targeted, loss=p.loss,
                            budget_params=("eps", "step_size"), loss_params=("loss", "kappa"),
                            effort_params=("steps", "restarts"))

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        from bench_builtin.native.pgd import pgd

        p = self.params
        labels, targeted = _labels(y, targets)
        step = p.step_size if p.step_size is not None else 2.5 * p.eps / p.steps
        x_adv, ok = pgd(model, x, labels, num_classes, targeted=targeted, eps=p.eps,
                        steps=p.steps, alpha=step, norm=p.norm, loss=p.loss,
                        restarts=p.restarts, random_start=p.random_start, kappa=p.kappa,
                        clip_values=clip_values, batch_size=p.batch_size, seed=p.seed)
        return AttackOutput(x_adv, ok, {"step_size": step})


class CwL2Native(Attack):
    name: ClassVar[str] = "cw-l2-native"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "Carlini & Wagner L2 (2017): tanh space, Adam, per-sample binary search over c, "
        "early abort; native TF2, batched")

    class Params(AttackParams):
        kappa: float = Field(0.0, ge=0, description="confidence margin on the logits")
        iterations: int = Field(200, gt=0, description="Adam steps per binary-search step "
                                "(paper 10,000; 200 measured to converge, see docs)")
        binary_search_steps: int = Field(9, gt=0, description="paper default 9")
        learning_rate: float = Field(1e-2, gt=0, description="Adam step, paper 1e-2")
        initial_const: float = Field(1e-3, gt=0, description="first c, paper 1e-3")
        abort_early: bool = Field(True, description="stop a sample when its loss stalls")
        batch_size: int = Field(256, gt=0)

    params: CwL2Native.Params

    def traits(self) -> AttackTraits:
        return AttackTraits(norm=2, targeted=self.targeted, loss="margin",
                            effort_params=("iterations", "binary_search_steps"))

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        from bench_builtin.native.cw_l2 import cw_l2

        labels, targeted = _labels(y, targets)
        kw = self.params.model_dump(exclude={"target"})
        x_adv, ok, info = cw_l2(model, x, labels, num_classes, targeted=targeted,
                                clip_values=clip_values, **kw)
        return AttackOutput(x_adv, ok, {"mean_const": float(np.nanmean(info["const"]))
                                        if np.isfinite(info["const"]).any() else None})


class CwLinfNative(Attack):
    name: ClassVar[str] = "cw-linf-native"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "Carlini & Wagner L-infinity (2017): tau shrinking by 0.9, c doubled on failure, "
        "warm starts; native TF2, batched")

    class Params(AttackParams):
        kappa: float = Field(0.0, ge=0, description="confidence margin on the logits")
        iterations: int = Field(300, gt=0, description="Adam steps per (tau, c) attempt "
                                "(paper 1000; 300 measured to converge, see docs)")
        learning_rate: float = Field(5e-3, gt=0, description="paper 5e-3")
        initial_const: float = Field(1e-5, gt=0, description="paper 1e-5")
        largest_const: float = Field(20.0, gt=0, description="paper 20")
        const_factor: float = Field(2.0, gt=1, description="paper 2")
        decrease_factor: float = Field(0.9, gt=0, lt=1, description="tau shrink, paper 0.9")
        batch_size: int = Field(256, gt=0)

        @model_validator(mode="after")
        def _consts(self) -> CwLinfNative.Params:
            if self.largest_const <= self.initial_const:
                raise ValueError("largest_const must be > initial_const")
            return self

    params: CwLinfNative.Params

    def traits(self) -> AttackTraits:
        return AttackTraits(norm="inf", targeted=self.targeted, loss="margin",
                            effort_params=("iterations",))

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        from bench_builtin.native.cw_linf import cw_linf

        labels, targeted = _labels(y, targets)
        kw = self.params.model_dump(exclude={"target"})
        x_adv, ok, _ = cw_linf(model, x, labels, num_classes, targeted=targeted,
                               clip_values=clip_values, **kw)
        return AttackOutput(x_adv, ok)


class CwL0Native(Attack):
    name: ClassVar[str] = "cw-l0-native"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "Carlini & Wagner L0 (2017): masked L2 attack, freezing the pixels with least "
        "|gradient| x |delta| until no adversarial example remains; native TF2, batched")

    class Params(AttackParams):
        kappa: float = Field(0.0, ge=0, description="confidence margin on the logits")
        iterations: int = Field(100, gt=0, description="Adam steps per c in each round "
                                "(paper 1000; 100 measured to converge, see docs)")
        learning_rate: float = Field(1e-2, gt=0, description="paper 1e-2")
        initial_const: float = Field(1e-3, gt=0, description="paper 1e-3")
        largest_const: float = Field(2e6, gt=0, description="paper 2e6")
        const_factor: float = Field(2.0, gt=1, description="paper 2")
        batch_size: int = Field(256, gt=0)

    params: CwL0Native.Params

    def traits(self) -> AttackTraits:
        return AttackTraits(norm=0, targeted=self.targeted, loss="margin",
                            effort_params=("iterations",))

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        from bench_builtin.native.cw_l0 import cw_l0

        labels, targeted = _labels(y, targets)
        kw = self.params.model_dump(exclude={"target"})
        x_adv, ok, info = cw_l0(model, x, labels, num_classes, targeted=targeted,
                                clip_values=clip_values, **kw)
        return AttackOutput(x_adv, ok, info)


ATTACKS: list[type[Attack]] = [IFgsm, Pgd, CwL2Native, CwLinfNative, CwL0Native]
