"""Row-level flags judged against the undefended twin (same model, a defense that declares
kind ``none``)."""

from __future__ import annotations

import dataclasses

import pytest

from bench.results.model import RunReport
from bench.results.stats import row_flags
from bench.traits import DefenseTraits

NONE = "model=cnn/defense=none"
DIST = "model=cnn/defense=distillation"


def diag(saturated: float | None, scale: float | None = 8.0, zero: float = 0.0) -> dict:
    return {"samples": 200, "grad_zero_fraction": zero, "grad_nonfinite_fraction": 0.0,
            "logit_scale_median": scale, "softmax_saturated_fraction": saturated}


def marker(row_id: str, kind: str, gradient: str = "exact") -> dict:
    """A (failed) cell that carries its row's defense traits, as every stored cell does."""
    return {"id": row_id, "cell_id": f"{row_id}/attack=a", "row_id": row_id, "attack_id": "a",
            "attack_name": "a", "status": "failed", "source_row": None, "info": {},
            "params": {}, "metrics": {}, "plugins": {"defense": {"traits": DefenseTraits(
                kind=kind, gradient=gradient).to_dict()}}}  # type: ignore[arg-type]


def report(twin: dict | None, row: dict, twin_model: str = "cnn") -> RunReport:
    rows = [{"row_id": DIST, "model_id": "cnn", "defense_id": "distillation",
             "diagnostics": row}]
    cells = [marker(DIST, "training")]
    if twin is not None:
        rid = f"model={twin_model}/defense=none"
        rows.insert(0, {"row_id": rid, "model_id": twin_model, "defense_id": "none",
                        "diagnostics": twin})
        cells.append(marker(rid, "none"))
    return RunReport({}, rows, cells)


def flags_of(rep: RunReport, row_id: str = DIST) -> dict[str, tuple[str, str]]:
    row = next(r for r in rep.rows if r["row_id"] == row_id)
    return {name: (status, evidence) for name, status, evidence in row_flags(rep, row)}


@pytest.mark.parametrize(("twin", "row", "status"), [
    (0.85, 0.9, "ok"),     # saturated, but no more than its confident undefended twin
    (0.71, 0.9, "ok"),     # 19 points more: within the gap
    (0.69, 0.9, "warn"),   # 21 points more
    (0.00, 0.05, "ok"),    # more than the twin, but not saturated
    (0.00, 0.06, "ok"),    # saturated and above the twin, but within the gap
    (0.00, 0.9, "warn"),
])
def test_saturated_softmax_compares_with_the_undefended_twin(twin, row, status):
    flags = flags_of(report(diag(twin), diag(row)))
    assert flags["saturated-softmax"][0] == status
    assert flags["saturated-softmax"][1] == (
        f"{100 * row:.1f}% of samples have an exactly one-hot float32 softmax "
        f"(undefended twin: {100 * twin:.1f}%)")


def test_no_twin_no_saturation_warning_and_no_logit_scale_flag():
    flags = flags_of(report(None, diag(0.95, scale=500.0)))
    assert flags["saturated-softmax"] == (
        "ok", "95.0% of samples have an exactly one-hot float32 softmax")
    assert "logit-scale" not in flags


def test_twin_of_another_model_is_not_a_twin():
    flags = flags_of(report(diag(0.9, scale=400.0), diag(0.95, scale=500.0), twin_model="mlp"))
    assert flags["saturated-softmax"][0] == "ok" and "logit-scale" not in flags


def test_the_undefended_row_is_not_its_own_twin():
    rep = report(diag(0.9, scale=8.0), diag(0.0))
    flags = flags_of(rep, NONE)
    assert flags["saturated-softmax"] == (
        "ok", "90.0% of samples have an exactly one-hot float32 softmax")
    assert "logit-scale" not in flags


@pytest.mark.parametrize(("scale", "status", "ratio"), [
    (80.0, "ok", "10x"), (80.8, "warn", "10.1x"), (8.0, "ok", "1x")])
def test_logit_scale_against_the_twin(scale, status, ratio):
    flags = flags_of(report(diag(0.0, scale=8.0), diag(0.0, scale=scale)))
    assert flags["logit-scale"] == (status, f"median max|logit| {scale:.3g} vs 8 on the "
                                            f"undefended twin ({ratio})")


@pytest.mark.parametrize(("zero", "status"), [(0.05, "ok"), (0.06, "warn")])
def test_zero_gradient_threshold(zero, status):
    flags = flags_of(report(diag(0.0), diag(0.0, zero=zero)))
    assert flags["zero-gradient"] == (status, f"{100 * zero:.1f}% of 200 clean samples have an "
                                              "exactly zero loss gradient, 0.0% a non-finite one")


def test_the_twin_is_found_by_traits_not_by_name():
    """A row whose defense is called anything but declares kind none is the twin; a row named
    'none' whose defense declares another kind is not."""
    rep = report(diag(0.0, scale=8.0), diag(0.0, scale=800.0))
    rep.rows[0] = dataclasses.replace(rep.rows[0], defense_id="baseline")
    assert flags_of(rep)["logit-scale"][0] == "warn"
    rep.cells[1] = dataclasses.replace(rep.cells[1], plugins={"defense": {
        "traits": DefenseTraits(kind="training").to_dict()}})
    assert "logit-scale" not in flags_of(rep)


def test_no_gradient_by_design_is_a_row_flag():
    rep = report(diag(0.0), diag(0.0))
    assert "no-gradient-by-design" not in flags_of(rep)
    rep.cells[0]["plugins"]["defense"]["traits"]["gradient"] = "none"
    assert flags_of(rep)["no-gradient-by-design"] == (
        "warn", "defense distillation is not differentiable and declares no BPDA: "
        "gradient-based attacks on it are not meaningful (use gradient-free or BPDA attacks)")
    rep.cells[0]["plugins"]["defense"]["traits"]["gradient"] = "bpda"
    assert "no-gradient-by-design" not in flags_of(rep)
