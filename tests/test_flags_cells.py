"""cell_flags / masking_verdicts on hand-built reports: which neighbours count, thresholds at
their exact edges, and the statuses and texts as stored."""

from __future__ import annotations

import math

import pytest

from bench.results.model import RunReport
from bench.results.stats import _attack, _sr, cell_flags, masking_verdicts
from bench.traits import AttackTraits

ROW = "model=cnn/defense=none"


def traits(name: str, params: dict) -> dict:
    """The traits the built-in attacks declare (what the sink stores with every cell)."""
    eps, targeted = params.get("eps"), params.get("target") is not None
    if name == "fgsm":
        t = AttackTraits("inf", eps, iterative=False, targeted=targeted, loss="ce",
                         budget_params=("eps", "eps_step"))
    elif name == "bim":
        t = AttackTraits("inf", eps, targeted=targeted, loss="ce",
                         budget_params=("eps", "eps_step"))
    elif name == "ifgsm":
        t = AttackTraits("inf", eps, targeted=targeted, loss=params.get("loss", "ce"),
                         budget_params=("eps", "alpha"),
                         loss_params=("loss", "temperature", "kappa"))
    else:  # a minimum-norm attack (cw-l2)
        t = AttackTraits(2, None, targeted=targeted, loss="margin")
    return t.to_dict()


def cell(attack_id: str, name: str, params: dict, sr: float | None, *, status: str = "ok",
         source: str | None = None, row: str = ROW, denominator: int = 90) -> dict:
    return {"id": attack_id + (source or "") + row, "row_id": row, "attack_id": attack_id,
            "attack_name": name, "status": status, "source_row": source, "info": {},
            "params": {"attack": params},
            "plugins": {"attack": {"name": name, "traits": traits(name, params)}},
            "metrics": {"success_rate": sr, "success_denominator": denominator}}


def flags(cells: list[dict], which: str) -> dict[str, tuple[str, str]]:
    report = RunReport({}, [], cells)
    target = next(c for c in cells if c["attack_id"] == which and c["source_row"] is None)
    return {name: (status, evidence) for name, status, evidence in cell_flags(report, target)}


BIM = {"eps": 0.3, "eps_step": 0.03, "target": None}


def test_single_step_compares_same_eps_and_target_only():
    base = [cell("bim", "bim", BIM, 0.2)]
    assert flags(base + [cell("fgsm", "fgsm", {"eps": 0.3, "target": None}, 0.9)], "bim")[
        "single-step-beats-iterative"] == ("warn", "fgsm 90.0% vs 20.0% at eps 0.3")
    for other in (cell("fgsm", "fgsm", {"eps": 0.1, "target": None}, 0.9),
                  cell("fgsm", "fgsm", {"eps": 0.3, "target": 3}, 0.9),
                  cell("fgsm", "fgsm", {"eps": 0.3, "target": None}, 0.9, source="x"),
                  cell("fgsm", "fgsm", {"eps": 0.3, "target": None}, 0.9, status="failed"),
                  cell("fgsm", "fgsm", {"eps": 0.3, "target": None}, 0.9, row="other"),
                  cell("cw", "cw-l2", {"eps": 0.3, "target": None}, 0.9)):
        assert "single-step-beats-iterative" not in flags(base + [other], "bim"), other
    # a single-step attack is not checked against iterative ones
    assert "single-step-beats-iterative" not in flags(
        [cell("fgsm", "fgsm", {"eps": 0.3, "target": None}, 0.1),
         cell("bim", "bim", BIM, 0.9)], "fgsm")


@pytest.mark.parametrize(("fgsm", "status"), [(0.055, "ok"), (0.056, "warn")])
def test_single_step_margin_edge(fgsm, status):
    got = flags([cell("bim", "bim", BIM, 0.005),
                 cell("fgsm", "fgsm", {"eps": 0.3, "target": None}, fgsm)], "bim")
    assert got["single-step-beats-iterative"][0] == status


def test_success_not_rising_sweeps_over_eps_and_step_only():
    cells = [cell("bim[eps=0.1]", "bim", {"eps": 0.1, "eps_step": 0.01, "target": None}, 0.9),
             cell("bim[eps=0.3]", "bim", BIM, 0.5)]
    assert flags(cells, "bim[eps=0.3]")["success-not-rising"] == (
        "warn", "50.0% at eps 0.3 vs up to 90.0% at smaller eps")
    alpha = [cell("i1", "ifgsm", {"eps": 0.1, "alpha": 0.01, "loss": "ce"}, 0.9),
             cell("i3", "ifgsm", {"eps": 0.3, "alpha": 0.1, "loss": "ce"}, 0.5)]
    assert flags(alpha, "i3")["success-not-rising"][0] == "warn"
    other_loss = [cell("i1", "ifgsm", {"eps": 0.1, "loss": "margin"}, 0.9),
                  cell("i3", "ifgsm", {"eps": 0.3, "loss": "ce"}, 0.5)]
    assert "success-not-rising" not in flags(other_loss, "i3")
    # the same eps with another step is not a smaller eps
    same_eps = [cell("a", "ifgsm", {"eps": 0.3, "alpha": 0.03}, 0.9),
                cell("b", "ifgsm", {"eps": 0.3, "alpha": 0.1}, 0.5)]
    assert "success-not-rising" not in flags(same_eps, "b")


@pytest.mark.parametrize(("smaller", "status"), [(0.055, "ok"), (0.056, "warn")])
def test_success_not_rising_margin_edge(smaller, status):
    cells = [cell("f1", "fgsm", {"eps": 0.1}, smaller), cell("f3", "fgsm", {"eps": 0.3}, 0.005)]
    assert flags(cells, "f3")["success-not-rising"][0] == status


@pytest.mark.parametrize(("sr", "status"), [(0.8, "ok"), (0.79, "warn")])
def test_large_eps_failure_edge(sr, status):
    got = flags([cell("f", "fgsm", {"eps": 0.5, "target": None}, sr)], "f")
    assert got["large-eps-failure"] == (
        status, f"{100 * sr:.1f}% success at eps 0.5 (half the data range or more)")
    assert "large-eps-failure" not in flags(
        [cell("f", "fgsm", {"eps": 0.49, "target": None}, 0.1)], "f")
    assert "large-eps-failure" not in flags(
        [cell("f", "fgsm", {"eps": 0.5, "target": None}, 0.1, denominator=0)], "f")


@pytest.mark.parametrize(("transfer", "status"), [(0.005, "ok"), (0.055, "ok"),
                                                  (0.056, "warn")])
def test_transfer_beats_white_box_edge(transfer, status):
    cells = [cell("f", "fgsm", {}, 0.005), cell("f", "fgsm", {}, transfer, source="src"),
             cell("g", "fgsm", {}, 0.9, source="src")]  # another attack's examples: ignored
    assert flags(cells, "f")["transfer-beats-white-box"] == (
        status, f"examples crafted on src succeed on {100 * transfer:.1f}% vs 0.5% white-box")


def test_loss_underflow_compares_same_attack_other_loss():
    cells = [cell("ce", "ifgsm", {"eps": 0.3, "loss": "ce"}, 0.1),
             cell("m", "ifgsm", {"eps": 0.3, "loss": "margin", "kappa": 1.0}, 0.9)]
    assert flags(cells, "ce")["loss-underflow"] == (
        "warn", "loss margin reaches 90.0% vs 10.0% with cross-entropy")
    cells[1]["metrics"]["success_rate"] = 0.3
    assert flags(cells, "ce")["loss-underflow"][0] == "ok"
    cells[1]["params"]["attack"]["eps"] = 0.2
    cells[1]["plugins"]["attack"]["traits"]["eps"] = 0.2
    assert "loss-underflow" not in flags(cells, "ce")


def test_success_rate_of_failed_or_empty_cells_is_nan():
    assert math.isnan(_sr(cell("a", "fgsm", {}, 0.5, status="failed")))
    assert math.isnan(_sr(cell("a", "fgsm", {}, None)))
    assert _sr(cell("a", "fgsm", {}, 0.5)) == 0.5
    assert _attack({"params": {}}) == {}
    assert flags([cell("a", "fgsm", {"eps": 0.5}, None)], "a") == {}


def test_masking_verdict_text():
    row = {"row_id": ROW, "model_id": "cnn", "defense_id": "distillation",
           "diagnostics": {"samples": 10, "grad_zero_fraction": 0.9}}
    cells = [cell("f", "fgsm", {}, 0.2), cell("m", "ifgsm", {}, 0.97)]
    cells[0]["info"]["flags"] = [{"name": "loss-underflow", "status": "warn"},
                                 {"name": "zero-gradient", "status": "warn"},
                                 {"name": "b-flag", "status": "warn"},
                                 {"name": "quiet", "status": "ok"}]
    [v] = masking_verdicts(RunReport({}, [row], cells))
    assert v == {"row_id": ROW, "row_flags": ["zero-gradient"],
                 "cell_flags": ["b-flag", "loss-underflow"], "best_attack": "m",
                 "best_success": 0.97,
                 "text": "apparent robustness is gradient masking: zero-gradient; b-flag, "
                         "loss-underflow; yet m succeeds on 97.0%"}
    cells[0]["info"]["flags"] = []
    [v] = masking_verdicts(RunReport({}, [row], cells))
    assert v["text"] == ("apparent robustness is gradient masking: zero-gradient; yet m "
                         "succeeds on 97.0%")


def test_single_step_needs_the_same_target_and_an_eps():
    bim = {"eps": 0.3, "eps_step": 0.03, "target": 3}
    cells = [cell("bim", "bim", bim, 0.1),
             cell("fgsm", "fgsm", {"eps": 0.3, "target": 3}, 0.9)]
    assert flags(cells, "bim")["single-step-beats-iterative"][0] == "warn"
    no_eps = [cell("bim", "bim", {"target": None}, 0.1), cell("fgsm", "fgsm", {}, 0.9)]
    assert "single-step-beats-iterative" not in flags(no_eps, "bim")


IF = {"eps": 0.3, "iterations": 10, "temperature": 100.0, "kappa": 0.0}


@pytest.mark.parametrize("other", [
    {**IF, "loss": "ce-t", "temperature": 10.0},
    {**IF, "loss": "margin", "kappa": 2.0},
], ids=["ce-t", "margin"])
def test_loss_underflow_ignores_loss_temperature_kappa(other):
    cells = [cell("ce", "ifgsm", {**IF, "loss": "ce"}, 0.25),
             cell("o", "ifgsm", other, 0.9)]
    assert flags(cells, "ce")["loss-underflow"][0] == "warn"
    cells[1]["metrics"]["success_rate"] = 0.45  # exactly 20 points more: not more than the gap
    assert flags(cells, "ce")["loss-underflow"][0] == "ok"
    cells[1]["params"]["attack"]["iterations"] = 20
    assert "loss-underflow" not in flags(cells, "ce")


def test_compute_flags_goes_past_skipped_cells_and_rowless_cells():
    from bench.results.stats import compute_flags

    cells = [cell("f", "fgsm", {"eps": 0.5}, 0.9, status="failed"),
             cell("t", "fgsm", {"eps": 0.5}, 0.9, source="src"),
             cell("g", "fgsm", {"eps": 0.5}, 0.9)]
    out = compute_flags(RunReport({}, [], cells))
    assert out == {cells[2]["id"]: [
        ("large-eps-failure", "ok", "90.0% success at eps 0.5 (half the data range or more)")]}


def test_update_stats_writes_the_given_run(tmp_path):
    from bench.results.model import load_report
    from bench.results.stats import update_stats
    from bench.results.store import Store

    store = Store(tmp_path / "s.sqlite")
    runs = []
    for sr in (0.1, 0.9):
        run = store.create_run("s", None, {}, 0, None, {}, {}, [], 1)
        store.add_cell(run, {"cell_id": f"{ROW}/attack=f", "row_id": ROW, "model_id": "cnn",
                             "defense_id": "none", "attack_id": "f", "attack_name": "fgsm",
                             "samples": 10, "status": "ok", "error": None,
                             "plugins": {"attack": {"name": "fgsm", "traits": traits(
                                 "fgsm", {"eps": 0.5})}},
                             "params": {"attack": {"eps": 0.5}}},
                       {"success_rate": sr, "success_denominator": 10}, {})
        runs.append(run)
    update_stats(store, runs[0])
    first, second = (load_report(store, r).cells[0] for r in runs)
    assert [f.status for f in first.flags] == ["warn"]
    assert second.flags == ()


@pytest.mark.parametrize(("zero", "nonfinite", "status"), [
    (0.03, 0.03, "warn"), (0.03, 0.0, "ok"), (0.05, None, "ok")])
def test_zero_gradient_counts_non_finite_gradients_too(zero, nonfinite, status):
    diag = {"samples": 100, "grad_zero_fraction": zero}
    if nonfinite is not None:
        diag["grad_nonfinite_fraction"] = nonfinite
    row = {"row_id": ROW, "model_id": "cnn", "defense_id": "none", "diagnostics": diag}
    from bench.results.stats import row_flags

    [(name, got, evidence)] = row_flags(RunReport({}, [row], []), row)
    assert (name, got) == ("zero-gradient", status)
    assert evidence == (f"{100 * zero:.1f}% of 100 clean samples have an exactly zero loss "
                        f"gradient, {100 * (nonfinite or 0):.1f}% a non-finite one")


@pytest.mark.parametrize(("twin", "row", "status"), [(0.3, 0.5, "ok"), (0.3, 0.51, "warn")])
def test_saturation_gap_edge(twin, row, status):
    from tests.test_flags_twin import diag, flags_of, report

    assert flags_of(report(diag(twin), diag(row)))["saturated-softmax"][0] == status


def test_masking_verdict_joins_row_flags():
    row = {"row_id": ROW, "model_id": "cnn", "defense_id": "distillation",
           "diagnostics": {"samples": 10, "grad_zero_fraction": 0.9, "logit_scale_median": 900.0}}
    twin = {"row_id": "model=cnn/defense=none", "model_id": "cnn", "defense_id": "none",
            "diagnostics": {"samples": 10, "grad_zero_fraction": 0.0, "logit_scale_median": 9.0}}
    from tests.test_flags_twin import marker

    cells = [cell("m", "ifgsm", {}, 0.5), marker(twin["row_id"], "none")]
    [v] = masking_verdicts(RunReport({}, [twin, row], cells))
    assert v["text"] == ("apparent robustness is gradient masking: zero-gradient, logit-scale; "
                         "yet m succeeds on 50.0%")


def noise_cell(eps: float, sr: float) -> dict:
    c = cell(f"random-noise[eps={eps}]", "random-noise", {"eps": eps, "target": None}, sr)
    c["plugins"]["attack"]["traits"] = AttackTraits(
        "inf", eps, iterative=False, gradient_free=True, random_noise=True,
        budget_params=("eps",)).to_dict()
    return c


@pytest.mark.parametrize(("noise", "status"), [(0.25, "ok"), (0.26, "warn")])
def test_noise_beats_attack_at_the_same_budget_only(noise, status):
    got = flags([cell("bim", "bim", BIM, 0.2), noise_cell(0.3, noise)], "bim")
    assert got["noise-beats-attack"][0] == status
    assert got["noise-beats-attack"][1].startswith("random-noise[eps=0.3] (random noise)")
    # noise is a baseline, not a gradient-free attack; another budget is not compared
    assert "gradient-free-beats-gradient" not in got
    assert "noise-beats-attack" not in flags([cell("bim", "bim", BIM, 0.2), noise_cell(0.1, 0.9)],
                                             "bim")
    assert "noise-beats-attack" not in flags([noise_cell(0.3, 0.9)], "random-noise[eps=0.3]")


@pytest.mark.parametrize(("sr", "status"), [(0.99, "ok"), (0.98, "warn")])
def test_an_unbounded_attack_must_fool_every_sample(sr, status):
    got = flags([cell("cw", "cw-l2", {"target": None}, sr)], "cw")
    assert got["unbounded-not-total"][0] == status
    targeted = flags([cell("cw", "cw-l2", {"target": "next"}, 0.5)], "cw")
    assert "unbounded-not-total" not in targeted


def _samples(broken: set[int], n: int, misclassified: frozenset[int] = frozenset()) -> list:
    """Per-sample results: label 0, samples in ``misclassified`` wrong when clean (not
    counted), those in ``broken`` fooled."""
    from bench.results.records import Sample

    return [Sample(idx=i, label=0, clean_pred=int(i in misclassified),
                   adv_pred=int(i in broken or i in misclassified),
                   success=int(i in broken and i not in misclassified)) for i in range(n)]


def _paired(bim: list, fgsm: list) -> tuple[str, str]:
    """single-step-beats-iterative for a BIM and an FGSM cell with these per-sample results."""
    def rate(ss):
        counted = [s for s in ss if s.clean_pred == s.label]
        return sum(s.success for s in counted) / len(counted)

    cells = [cell("bim", "bim", BIM, rate(bim)),
             cell("fgsm", "fgsm", {"eps": 0.3, "target": None}, rate(fgsm))]
    per_cell = {"bim" + ROW: bim, "fgsm" + ROW: fgsm}
    report = RunReport({}, [], cells, loader=per_cell.__getitem__)
    got = {n: (s, e) for n, s, e in cell_flags(report, report.cells[0])}
    return got["single-step-beats-iterative"]


def test_a_gap_on_a_few_samples_is_not_significant():
    # 10 points on 20 samples: 2 samples only FGSM breaks, none only BIM breaks (p = 0.25)
    assert _paired(_samples({0, 1}, 20), _samples({0, 1, 2, 3}, 20)) == (
        "ok", "fgsm 20.0% vs 10.0% at eps 0.3 (of the 20 samples both counted, 2 broken by the "
              "first only, 0 by the second only, p = 0.25, not significant)")
    # the same 10 points on 200 samples: 20 vs 0 (p = 1e-6)
    status, evidence = _paired(_samples(set(range(20)), 200), _samples(set(range(40)), 200))
    assert status == "warn" and evidence.endswith(
        "(of the 200 samples both counted, 20 broken by the first only, 0 by the second only, "
        "p = 9.5e-07)")


def test_the_test_pairs_samples_and_counts_only_eligible_ones():
    # FGSM ran on 200 samples, BIM on the first 50: on those both break the same 5, so
    # FGSM's 40 % against BIM's 10 % is no evidence (the later samples are easier)
    status, evidence = _paired(_samples(set(range(5)), 50),
                               _samples(set(range(5)) | set(range(50, 125)), 200))
    assert status == "ok" and "(of the 50 samples both counted, 0 broken" in evidence
    # misclassified clean samples are not counted, whatever their success field says
    wrong = frozenset(range(30, 50))
    status, evidence = _paired(_samples(set(range(30)), 50, wrong),
                               _samples(set(range(30)), 50, wrong))
    assert "of the 30 samples both counted," in evidence and status == "ok"
