"""The ART wrappers a reviewer asks for first (pgd, apgd, autoattack, square, hop-skip-jump,
deepfool) keep bench.testing's attack contract on the kit's tiny trained model, declare their
threat model truthfully and refuse what ART cannot do in one line."""

from __future__ import annotations

import pytest
from bench_builtin.attacks.art_autoattack import AutoAttack
from bench_builtin.attacks.art_bounded import Apgd, Pgd, Square
from bench_builtin.attacks.art_minimum_norm import DeepFool, HopSkipJump
from pydantic import ValidationError

from bench.testing import check_attack

#: (class, tiny params, samples, why it may not be split across batches). PGD's restarts,
#: APGD, AutoAttack and Square seed ART's global generator once per generate() call:
#: repeatable, but a sample's random start (or square) depends on its place in the batch, so
#: batch-split invariance is skipped for them.
BATCH_SEEDED = "one seeded draw per generate() call"
CASES = [
    (Pgd, {"eps": 0.25, "eps_step": 0.05, "max_iter": 5, "target": "next"}, 16, None),
    (Pgd, {"eps": 2.0, "norm": 2, "eps_step": 0.5, "max_iter": 5}, 16, None),
    (Pgd, {"eps": 10.0, "norm": 1, "eps_step": 2.0, "max_iter": 5}, 16, None),
    (Pgd, {"eps": 0.1, "eps_step": 0.02, "max_iter": 3, "num_random_init": 2}, 16, BATCH_SEEDED),
    (Apgd, {"eps": 0.25, "max_iter": 5, "nb_random_init": 1, "loss": "dlr", "target": "next"},
     8, BATCH_SEEDED),
    (Apgd, {"eps": 1.5, "norm": 2, "max_iter": 5, "nb_random_init": 1}, 8, BATCH_SEEDED),
    (AutoAttack, {"eps": 0.1, "max_iter": 3, "n_target_classes": 2, "square_max_iter": 10},
     8, BATCH_SEEDED),
    (Square, {"eps": 0.1, "max_iter": 20}, 16, BATCH_SEEDED),
    (Square, {"eps": 1.0, "norm": 2, "max_iter": 20}, 16, BATCH_SEEDED),
    # seeded per sample (by its content): batch-split invariant
    (HopSkipJump, {"max_iter": 2, "max_eval": 20, "init_eval": 5, "init_size": 20}, 6, None),
    (HopSkipJump, {"norm": "inf", "max_iter": 2, "max_eval": 20, "init_eval": 5,
                   "init_size": 50, "target": "next"}, 6, None),
    (DeepFool, {"max_iter": 5, "batch_size": 6}, 6, None),
]


@pytest.mark.parametrize(("cls", "params", "samples", "batch_dependent"), CASES,
                         ids=lambda v: v.name if isinstance(v, type) else None)
def test_contract(cls, params, samples, batch_dependent, bench_tiny_model):
    # HopSkipJump's targeted start is a random image the model gives the target: too few on
    # the tiny settings to promise 50 % targeted success (the kit checks it for large budgets)
    report = check_attack(cls, bench_tiny_model, params=params, samples=samples,
                          batch_dependent=batch_dependent is not None,
                          min_targeted_success=None if cls is HopSkipJump else 0.5)
    assert {"traits", "input not mutated", "finite and inside clip_values",
            "seed determinism"} <= set(report.checked)
    assert ("batch-split invariance" in report.checked) == (batch_dependent is None)
    assert ("within the declared bound" in report.checked) == (cls().bound() is not None)
    if params.get("target") and cls is not HopSkipJump:
        assert report.measured["targeted_success"] >= 0.5


def test_declared_threat_models():
    t = Pgd(Pgd.Params(norm=1, eps=8.0, target="next")).traits()
    assert (t.norm, t.eps, t.targeted, t.loss, t.gradient_free) == (1, 8.0, True, "ce", False)
    t = Apgd(Apgd.Params(loss="dlr")).traits()
    assert (t.loss, t.loss_params, t.budget_params) == ("dlr", ("loss",), ("eps", "eps_step"))
    t = AutoAttack(AutoAttack.Params(norm=2, eps=1.5)).traits()
    assert (t.norm, t.eps, t.gradient_free, t.targeted) == (2, 1.5, False, False)
    t = Square(Square.Params(eps=0.2)).traits()
    assert (t.norm, t.eps, t.gradient_free, t.loss) == ("inf", 0.2, True, "margin")
    t = HopSkipJump(HopSkipJump.Params(norm="inf", target=3)).traits()
    assert (t.norm, t.eps, t.gradient_free, t.targeted) == ("inf", None, True, True)
    assert HopSkipJump().bound() is None and DeepFool().bound() is None
    t = DeepFool().traits()
    assert (t.norm, t.eps, t.gradient_free, t.iterative) == (2, None, False, True)


@pytest.mark.parametrize("cls", [AutoAttack, Square, DeepFool], ids=lambda c: c.name)
def test_untargeted_only_attacks_refuse_a_target(cls):
    with pytest.raises(ValidationError) as info:
        cls.Params(target="next")
    assert info.value.errors()[0]["msg"] == (
        f"Value error, {cls.name} is untargeted only, got target 'next'")
