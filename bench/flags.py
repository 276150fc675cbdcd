"""Evaluation sanity flags (Carlini et al. 2019; Athalye et al. 2018), per white-box cell.

Each flag is a named status (``warn`` when it fires, ``ok`` when checked and quiet) with its
evidence. They are computed from stored results after a run, so old runs can be re-flagged.
A fired flag means the cell's number is likely an artefact of gradient masking: its robustness
is an upper bound that a stronger or better-suited attack would lower.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from bench.report import RunReport, load_report
from bench.store import Store

#: thresholds (fractions); see docs for the reasoning
ZERO_GRADIENT = 0.05
LOGIT_RATIO = 10.0
SATURATED = 0.05
SATURATED_GAP = 0.2
#: the margin is a stronger loss than cross-entropy anyway: only a large gap means underflow
LOSS_GAP = 0.2
MARGIN = 0.05
LARGE_EPS = 0.5  # of the data range
LARGE_EPS_SUCCESS = 0.8
SINGLE_STEP = {"fgsm"}
ITERATIVE = {"bim", "ifgsm"}

Flag = tuple[str, str, str]  # name, status, evidence

#: flags about the deployed model itself (the same on every cell of its row)
ROW_FLAGS = ("zero-gradient", "saturated-softmax", "logit-scale")


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _sr(cell: dict[str, Any]) -> float:
    """Success rate of a cell, NaN when it failed or has no eligible sample."""
    value = cell["metrics"].get("success_rate") if cell["status"] == "ok" else None
    return math.nan if value is None else float(value)


def _attack(cell: dict[str, Any]) -> dict[str, Any]:
    return dict(cell["params"].get("attack", {}))


def _without(params: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in keys}


def row_flags(report: RunReport, row: dict[str, Any]) -> list[Flag]:
    """Flags on the deployed model itself, shown on every white-box cell of its row."""
    d = row.get("diagnostics") or {}
    flags: list[Flag] = []
    if "grad_zero_fraction" in d:
        bad = d["grad_zero_fraction"] + d.get("grad_nonfinite_fraction", 0.0)
        flags.append(("zero-gradient", "warn" if bad > ZERO_GRADIENT else "ok",
                      f"{_pct(d['grad_zero_fraction'])} of {d['samples']} clean samples have an "
                      f"exactly zero loss gradient, {_pct(d.get('grad_nonfinite_fraction', 0))} "
                      "a non-finite one"))
    twin = next((r for r in report.rows if r["model_id"] == row["model_id"]
                 and r["defense_id"] == "none" and r.get("diagnostics")), None)
    if twin is row:
        twin = None
    saturated = d.get("softmax_saturated_fraction")
    if saturated is not None:
        # a confident undefended model saturates too: only more than its twin is suspicious
        base = (twin or {}).get("diagnostics", {}).get("softmax_saturated_fraction")
        fired = saturated > SATURATED and base is not None and saturated > base + SATURATED_GAP
        versus = "" if base is None else f" (undefended twin: {_pct(base)})"
        flags.append(("saturated-softmax", "warn" if fired else "ok",
                      f"{_pct(saturated)} of samples have an exactly one-hot float32 softmax"
                      + versus))
    scale = d.get("logit_scale_median")
    if twin is not None and scale and twin["diagnostics"].get(
            "logit_scale_median"):
        twin_scale = twin["diagnostics"]["logit_scale_median"]
        ratio = scale / twin_scale
        flags.append(("logit-scale", "warn" if ratio > LOGIT_RATIO else "ok",
                      f"median max|logit| {scale:.3g} vs {twin_scale:.3g} on the undefended "
                      f"twin ({ratio:.3g}x)"))
    return flags


def cell_flags(report: RunReport, cell: dict[str, Any]) -> Iterator[Flag]:
    """Flags that compare a white-box cell with its neighbours in the same row."""
    sr = _sr(cell)
    if math.isnan(sr):
        return
    params, name = _attack(cell), cell["attack_name"]
    same_row = [c for c in report.cells if c["row_id"] == cell["row_id"]
                and c.get("source_row") is None and c is not cell and not math.isnan(_sr(c))]
    eps = params.get("eps")
    if eps is not None and name in ITERATIVE:
        for other in same_row:
            op = _attack(other)
            if (other["attack_name"] in SINGLE_STEP and op.get("eps") == eps
                    and op.get("target") == params.get("target")):
                beat = _sr(other) > sr + MARGIN
                yield ("single-step-beats-iterative", "warn" if beat else "ok",
                       f"{other['attack_id']} {_pct(_sr(other))} vs {_pct(sr)} "
                       f"at eps {eps:g}")
                break
    if eps is not None:
        sweep = sorted((_attack(c)["eps"], _sr(c)) for c in same_row
                       if c["attack_name"] == name and _attack(c).get("eps") is not None
                       and _without(_attack(c), "eps", "eps_step", "alpha")
                       == _without(params, "eps", "eps_step", "alpha"))
        smaller = [s for e, s in sweep if e < eps]
        if smaller:
            drop = max(smaller) - sr
            yield ("success-not-rising", "warn" if drop > MARGIN else "ok",
                   f"{_pct(sr)} at eps {eps:g} vs up to {_pct(max(smaller))} at smaller eps")
        # untargeted only: a targeted attack with few steps of eps / iterations can fail at a
        # large eps without any masking (reaching one given class is a much harder goal)
        if (eps >= LARGE_EPS and params.get("target") is None
                and cell["metrics"].get("success_denominator")):
            yield ("large-eps-failure", "warn" if sr < LARGE_EPS_SUCCESS else "ok",
                   f"{_pct(sr)} success at eps {eps:g} (half the data range or more)")
    transfers = [c for c in report.cells if c["row_id"] == cell["row_id"]
                 and c.get("source_row") and c["attack_id"] == cell["attack_id"]
                 and not math.isnan(_sr(c))]
    for t in transfers:
        beat = _sr(t) > sr + MARGIN
        yield ("transfer-beats-white-box", "warn" if beat else "ok",
               f"examples crafted on {t['source_row']} succeed on {_pct(_sr(t))} vs "
               f"{_pct(sr)} white-box")
    if params.get("loss") == "ce":
        for other in same_row:
            op = _attack(other)
            if (other["attack_name"] == name and op.get("loss") in ("margin", "ce-t")
                    and _without(op, "loss", "temperature", "kappa")
                    == _without(params, "loss", "temperature", "kappa")):
                beat = _sr(other) > sr + LOSS_GAP
                yield ("loss-underflow", "warn" if beat else "ok",
                       f"loss {op['loss']} reaches {_pct(_sr(other))} vs {_pct(sr)} with "
                       "cross-entropy")


def compute_flags(report: RunReport) -> dict[int, list[Flag]]:
    """Cell primary key -> flags, for every white-box cell that passed."""
    out: dict[int, list[Flag]] = {}
    per_row = {r["row_id"]: row_flags(report, r) for r in report.rows}
    for cell in report.cells:
        if cell.get("source_row") is not None or cell["status"] != "ok":
            continue
        out[cell["id"]] = per_row.get(cell["row_id"], []) + list(cell_flags(report, cell))
    return out


def update_flags(store: Store, run_id: int) -> None:
    report = load_report(store, run_id)
    store.set_flags([(pk, name, status, evidence)
                     for pk, flags in compute_flags(report).items()
                     for name, status, evidence in flags])


def masking_verdicts(report: RunReport) -> list[dict[str, Any]]:
    """Per row whose deployed model raises a row-level flag (zero gradients, saturation, logit
    scale): the verdict that its apparent robustness is gradient masking, with the evidence:
    the row's flags, the cell flags raised on it, and its strongest white-box attack."""
    out = []
    for row in report.rows:
        cells = [c for c in report.white_box if c["row_id"] == row["row_id"]
                 and not math.isnan(_sr(c))]
        row_level = [f for f, status, _ in row_flags(report, row) if status == "warn"]
        if not cells or not row_level:
            continue
        per_cell = sorted({f["name"] for c in cells for f in report.warnings(c)}
                          - set(ROW_FLAGS))
        best = max(cells, key=_sr)
        out.append({"row_id": row["row_id"], "row_flags": row_level, "cell_flags": per_cell,
                    "best_attack": best["attack_id"], "best_success": _sr(best),
                    "text": (f"apparent robustness is gradient masking: {', '.join(row_level)}"
                             + (f"; {', '.join(per_cell)}" if per_cell else "")
                             + f"; yet {best['attack_id']} succeeds on {_pct(_sr(best))}")})
    return out
