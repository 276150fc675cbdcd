"""check_attack fails, naming the property, on attacks that break the contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import Field

from bench.interfaces import Attack, AttackOutput, AttackParams, AttackTraits
from bench.testing import check_attack


class StepParams(AttackParams):
    eps: float = Field(0.1, ge=0)
    step: float = Field(0.1)


class Step(Attack):
    """Adds +step to every pixel (deterministic, per sample); subclasses break one rule."""

    name = "step"
    Params = StepParams

    def bound(self):
        return ("inf", self.params.eps)

    def generate(self, model, x, y, targets, clip_values, num_classes):
        return AttackOutput(np.clip(x + self.params.step, *clip_values).astype(x.dtype))


class Float64(Step):
    def generate(self, model, x, y, targets, clip_values, num_classes):
        return AttackOutput(super().generate(model, x, y, targets, clip_values,
                                             num_classes).x_adv.astype(np.float64))


class OutOfRange(Step):
    def generate(self, model, x, y, targets, clip_values, num_classes):
        return AttackOutput(x + self.params.step)


class InPlace(Step):
    def generate(self, model, x, y, targets, clip_values, num_classes):
        x += 0.0
        return AttackOutput(x)


class Noisy(Step):
    def generate(self, model, x, y, targets, clip_values, num_classes):
        noise = np.random.default_rng().uniform(-self.params.eps, self.params.eps, x.shape)
        return AttackOutput(np.clip(x + noise, *clip_values).astype(x.dtype))


class PerBatch(Step):
    """One seeded noise draw per call: the same samples get other noise in another batch."""

    def generate(self, model, x, y, targets, clip_values, num_classes):
        noise = np.random.default_rng(0).uniform(-self.params.eps, self.params.eps, x.shape)
        return AttackOutput(np.clip(x + noise, *clip_values).astype(x.dtype))


class WrongTraits(Step):
    def traits(self):
        return AttackTraits(norm=2, eps=self.params.eps)


class ClaimsEps(Step):
    def bound(self):
        return None

    def traits(self):
        return AttackTraits(norm="inf", eps=0.1)


class EffortNotACount(Step):
    def traits(self):
        return AttackTraits(norm="inf", eps=self.params.eps, effort_params=("step",))


class MathInf(Step):
    """Spells the L-infinity norm ``math.inf``, which bound() accepts: the default traits()
    must carry it through."""

    def bound(self):
        return (math.inf, self.params.eps)


class Weak(Step):
    """Targeted, a large budget, and it does nothing."""

    def generate(self, model, x, y, targets, clip_values, num_classes):
        return AttackOutput(x.copy())


def test_a_good_attack_passes(bench_tiny_model):
    report = check_attack(Step, bench_tiny_model, params={"step": 0.05})
    assert report.checked == ["traits", "input not mutated", "shape and dtype",
                              "finite and inside clip_values", "within the declared bound",
                              "seed determinism", "batch-split invariance"]
    assert report.skipped == {"targeted success": "untargeted"}
    assert report.subject == "check_attack(step[step=0.05])"
    spelled = check_attack(MathInf, bench_tiny_model, params={"step": 0.05})
    assert spelled.measured["traits"]["norm"] == math.inf


@pytest.mark.parametrize(("cls", "params", "message"), [
    (Step, {"eps": 0.05}, "check_attack(step[eps=0.05]): within the declared bound: 16 of 16 "
     "adversarial examples exceed eps=0.05 in the Linf norm (by up to 0.05)"),
    (Float64, {}, "check_attack(step): shape and dtype: x_adv is float64[16, 28, 28, 1], the "
     "input float32[16, 28, 28, 1]"),
    (OutOfRange, {}, "check_attack(step): finite and inside clip_values: 16 of 16 adversarial "
     "examples leave the data range [0, 1] (by up to 0.1)"),
    (WrongTraits, {}, "check_attack(step): traits: traits().norm is 2 but bound() promises the "
     "Linf norm"),
    (ClaimsEps, {}, "check_attack(step): traits: traits().eps is 0.1 but bound() is None: the "
     "host checks only bound(); declare both or neither"),
    (EffortNotACount, {}, "check_attack(step): traits: traits().effort_params names step, not "
     "integer counts of 0 or more (the convergence check doubles them)"),
])
def test_a_broken_rule_is_named(bench_tiny_model, cls, params, message):
    with pytest.raises(AssertionError) as info:
        check_attack(cls, bench_tiny_model, params=params)
    assert str(info.value) == message


def test_writing_into_the_input(bench_tiny_model):
    with pytest.raises(AssertionError, match=r"^check_attack\(step\): input not mutated: "
                       r"generate\(\) wrote into its read-only input"):
        check_attack(InPlace, bench_tiny_model)


def test_randomness_and_batch_dependence(bench_tiny_model):
    with pytest.raises(AssertionError, match=r"^check_attack\(step\): seed determinism: a "
                       r"second call with the same inputs changed 16 of 16 examples"):
        check_attack(Noisy, bench_tiny_model)
    assert "seed determinism" in check_attack(Noisy, bench_tiny_model,
                                              deterministic=False).skipped
    with pytest.raises(AssertionError, match=r"^check_attack\(step\): batch-split invariance: "
                       r"attacking the 16 samples as 7 \+ 9 changed 9 examples"):
        check_attack(PerBatch, bench_tiny_model)
    report = check_attack(PerBatch, bench_tiny_model, batch_dependent=True)
    assert report.skipped["batch-split invariance"] == "batch_dependent=True"


def test_targeted_success_on_the_tiny_model(bench_tiny_model):
    with pytest.raises(AssertionError) as info:
        check_attack(Weak, bench_tiny_model, params={"eps": 0.3, "target": "next"})
    assert str(info.value) == (
        "check_attack(step[target=next,eps=0.3]): targeted success: 6% of 16 samples reach "
        "their target on the model, expected at least 50% from eps=0.3 "
        "(min_targeted_success=None skips this for settings not meant to succeed)")
    small = check_attack(Weak, bench_tiny_model, params={"eps": 0.1, "target": "next"})
    assert small.skipped["targeted success"] == "eps=0.1 is below the large budget 0.25"
