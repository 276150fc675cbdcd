"""Robust accuracy per threat model and robustness curves, on hand-made per-sample results
whose answers are worked out by hand."""

from __future__ import annotations

import math

import pytest

from bench.results.records import Cell, Sample
from bench.results.threat import (
    ThreatModel,
    accuracy,
    curve,
    declared,
    fill_intervals,
    implied,
    interval,
    margin,
    norm_key,
    tier,
)
from bench.traits import AttackTraits

LABELS = [0, 1, 2, 3]


def cell(pk: int, traits: AttackTraits | None, adv: list[int], norms: list[float] | None = None,
         clean: list[int] = LABELS) -> tuple[Cell, list[Sample]]:
    plugins = {"attack": {"name": "a", "traits": traits.to_dict()}} if traits else {}
    c = Cell(id=pk, cell_id=f"c{pk}", row_id="r", attack_id=f"a{pk}", plugins=plugins,
             samples=len(adv))
    norms = norms or [0.0] * len(adv)
    return c, [Sample(idx=i, label=LABELS[i], clean_pred=clean[i], adv_pred=adv[i], linf=n,
                      l2=2 * n, l0=10 * n) for i, n in enumerate(norms)]


def table(*made: tuple[Cell, list[Sample]]):
    by = {c.id: s for c, s in made}
    return [c for c, _ in made], lambda c: by[c.id]


BIM_01 = AttackTraits(norm="inf", eps=0.1)
BIM_03 = AttackTraits(norm="inf", eps=0.3)
L2_1 = AttackTraits(norm=2, eps=1.0)
CW = AttackTraits(norm=2, eps=None, loss="margin")


def test_a_bounded_attack_counts_where_its_bound_fits():
    cells, samples = table(cell(1, BIM_01, [9, 1, 2, 3]),   # fools sample 0 at 0.1
                           cell(2, BIM_03, [9, 9, 2, 3]),   # fools samples 0, 1 at 0.3
                           cell(3, L2_1, [9, 9, 9, 3]))     # another norm: never counts here
    at_01 = accuracy(cells, samples, ThreatModel("inf", 0.1))
    at_03 = accuracy(cells, samples, ThreatModel("inf", 0.3))
    assert (at_01["robust_accuracy"], at_01["attacks"]) == (0.75, 1)
    assert (at_03["robust_accuracy"], at_03["attacks"]) == (0.5, 2)
    l2 = accuracy(cells, samples, ThreatModel("2", 1.0))
    assert (l2["robust_accuracy"], l2["attacks"]) == (0.25, 1)
    nothing = accuracy(cells, samples, ThreatModel("2", 0.5))
    assert nothing["robust_accuracy"] is None and nothing["tiers"] == []


def test_a_minimum_norm_attack_counts_its_successes_within_the_budget():
    # CW fools all four; measured L2 norms 0.2, 0.6, 1.0, 1.4 (l2 = 2 * linf in the table)
    cells, samples = table(cell(1, CW, [9, 9, 9, 9], norms=[0.1, 0.3, 0.5, 0.7]))
    got = [accuracy(cells, samples, ThreatModel("2", e))["robust_accuracy"]
           for e in (0.1, 0.6, 1.0, 2.0)]
    assert got == [1.0, 0.5, 0.25, 0.0]
    # the same CW examples measured in L-inf (0.1 .. 0.7)
    assert accuracy(cells, samples, ThreatModel("inf", 0.3))["robust_accuracy"] == 0.5
    # a clean error is never robust; an unfooled sample has no norm to count
    cells, samples = table(cell(1, CW, [0, 1, 2, 9], norms=[0.0, 0.0, 0.0, 5.0],
                                clean=[7, 1, 2, 3]))
    assert accuracy(cells, samples, ThreatModel("2", 1.0))["robust_accuracy"] == 0.75


def test_tiers_follow_the_sample_counts():
    cells, samples = table(cell(1, BIM_01, [9, 1]),              # 2 samples, fools sample 0
                           cell(2, BIM_01, [0, 9, 2, 3]))       # 4 samples, fools sample 1
    got = accuracy(cells, samples, ThreatModel("inf", 0.1))
    assert [{k: t[k] for k in ("samples", "attacks", "robust_accuracy")} for t in got["tiers"]] \
        == [{"samples": 2, "attacks": 2, "robust_accuracy": 0.0},
            {"samples": 4, "attacks": 1, "robust_accuracy": 0.75}]
    # 0 of 2 and 3 of 4: exact 95 % intervals (0 of n: [0, 1 - 0.025 ** (1 / n)])
    assert got["tiers"][0]["interval"] == pytest.approx([0.0, 1 - 0.025 ** 0.5])
    assert got["tiers"][1]["interval"] == pytest.approx([0.19412, 0.99369], abs=1e-5)
    assert (got["samples"], got["robust_accuracy"], got["label"]) == (2, 0.0, "L-inf 0.1")


def test_cells_without_traits_never_count():
    cells, samples = table(cell(1, None, [9, 9, 9, 9]))
    assert accuracy(cells, samples, ThreatModel("inf", 1.0))["robust_accuracy"] is None


def test_the_curve_steps_down_at_every_known_radius():
    cells, samples = table(cell(1, BIM_01, [9, 1, 2, 3]),                      # r0 <= 0.1
                           cell(2, CW, [9, 9, 2, 9], norms=[0.05, 0.2, 0, 0.4]),
                           cell(3, L2_1, [9, 9, 9, 9]))                        # not L-inf
    got = curve(cells, samples, "inf")
    assert (got["samples"], got["attacks"]) == (4, 2)
    # radii: sample 0 min(0.1, 0.05) = 0.05, sample 1 0.2, sample 2 never, sample 3 0.4
    assert got["points"] == [(0.0, 1.0), (0.05, 0.75), (0.2, 0.5), (0.4, 0.25)]
    assert curve(cells, samples, 1) is None  # no L1 norms are measured


def test_threat_models_from_a_suite_or_from_the_bounds_that_ran():
    tms = declared({"threat_models": [{"norm": "inf", "eps": 0.1}, {"norm": 2, "eps": 1.5}]})
    assert [t.label for t in tms] == ["L-inf 0.1", "L2 1.5"]
    cells, _ = table(cell(1, BIM_03, [0]), cell(2, L2_1, [0]), cell(3, BIM_01, [0]),
                     cell(4, CW, [0]), cell(5, BIM_01, [0]))
    assert [t.label for t in implied(cells)] == ["L-inf 0.1", "L-inf 0.3", "L2 1"]
    assert [norm_key(n) for n in ("inf", math.inf, 2, 2.0, "2")] == ["inf", "inf", "2", "2", "2"]


@pytest.mark.parametrize("value,inside", [(0.1, True), (0.1000009, True), (0.1001, False)])
def test_a_float32_measurement_at_the_budget_is_within_it(value, inside):
    assert ThreatModel("inf", 0.1).within(value) is inside


def test_intervals_are_exact_and_filled_in_for_runs_stored_without_them():
    # Clopper-Pearson's closed forms at the ends: 0 of n, n of n
    assert interval(0, 10) == pytest.approx([0.0, 1 - 0.025 ** 0.1])
    assert interval(10, 10) == pytest.approx([0.025 ** 0.1, 1.0])
    assert margin({"robust_accuracy": 0.0, "interval": interval(0, 10)}) == pytest.approx(0.3085,
                                                                                          abs=1e-4)
    assert margin({"robust_accuracy": None}) is None and margin({"robust_accuracy": 0.5}) is None
    # more samples, a narrower interval around the same accuracy
    assert margin(tier(2000, 1, 1000)) < 0.023 < margin(tier(200, 1, 100)) < 0.072
    old = {"samples": 4, "attacks": 1, "robust_accuracy": 0.75,
           "tiers": [{"samples": 4, "attacks": 1, "robust_accuracy": 0.75},
                     {"samples": 8, "attacks": 1, "robust_accuracy": 0.5}]}
    none = {"samples": 0, "attacks": 0, "robust_accuracy": None, "tiers": []}
    fill_intervals([old, none])
    assert old == {**tier(4, 1, 3), "tiers": [tier(4, 1, 3), tier(8, 1, 4)]}
    assert "interval" not in none
