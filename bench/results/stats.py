"""The statistics of a run, computed once when it ends (:func:`update_stats`) and stored:
evaluation sanity flags per white-box cell (Carlini et al. 2019; Athalye et al. 2018), the
worst-case robust accuracy per row, and masking verdicts. Renderers read them from the results
model; they never compute them.

Each flag is a named status (``warn`` when it fires, ``ok`` when checked and quiet) with its
evidence. They are computed from stored results after a run, so old runs can be re-flagged.
A fired flag means the cell's number is likely an artefact of gradient masking: its robustness
is an upper bound that a stronger or better-suited attack would lower.

A flag that says one cell beats another fires when the gap between their success rates exceeds
its threshold and, where per-sample results are stored (every run), the gap is significant on
the samples both cells counted: a one-sided exact McNemar (sign) test at :data:`SIGNIFICANCE`,
so that a few samples of a small cell do not raise a flag.

Flags read what plugins declare about themselves (:mod:`bench.traits`, stored with every cell),
never plugin names: an attack's norm, eps, whether it is iterative or gradient-free, its loss
and which of its parameters set the budget or choose the loss; a defense's kind (``none`` marks
the undefended twin of a row) and how attacks get its gradients.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from scipy.stats import binomtest

from bench.results import threat
from bench.results.model import RunResults, load_results
from bench.results.records import Cell, Row
from bench.results.store import Store
from bench.traits import AttackTraits, DefenseTraits, work_count

RunReport = RunResults

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
#: a minimum-norm (unbounded) untargeted attack below this success has not converged
UNBOUNDED_SUCCESS = 0.99
#: doubling an attack's work may raise its success by this much ("a few points") and no more
CONVERGED_GAIN = 0.03
#: a gap between two cells must also be this significant on the samples both counted
SIGNIFICANCE = 0.05

Flag = tuple[str, str, str]  # name, status, evidence

#: flags about the deployed model itself (the same on every cell of its row)
ROW_FLAGS = ("zero-gradient", "saturated-softmax", "logit-scale", "no-gradient-by-design")


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _sr(cell: Cell) -> float:
    """Success rate of a cell, NaN when it failed or has no eligible sample."""
    value = cell["metrics"].get("success_rate") if cell["status"] == "ok" else None
    return math.nan if value is None else float(value)


def _beats(report: RunReport, better: Cell, cell: Cell, gap: float) -> tuple[bool, str]:
    """Whether ``better`` succeeds on more than ``gap`` more than ``cell`` and, where both
    have per-sample results, significantly more on the samples both counted (exact one-sided
    McNemar test: of the samples broken by one of them only, are more broken by ``better``
    than chance allows?). Returns that, and the test's evidence ("" without samples)."""
    wide = _sr(better) > _sr(cell) + gap
    theirs, mine = report.outcomes(better), report.outcomes(cell)
    shared = theirs.keys() & mine.keys()
    if not shared:
        return wide, ""
    only_theirs = sum(theirs[i] and not mine[i] for i in shared)
    only_mine = sum(mine[i] and not theirs[i] for i in shared)
    split = only_theirs + only_mine
    p = binomtest(only_theirs, split, alternative="greater").pvalue if split else 1.0
    beat = wide and p < SIGNIFICANCE
    return beat, (f" (of the {len(shared)} samples both counted, {only_theirs} broken by the "
                  f"first only, {only_mine} by the second only, p = {p:.2g}"
                  + (", not significant)" if wide and not beat else ")"))


def _attack(cell: Cell) -> dict[str, Any]:
    return dict(cell["params"].get("attack", {}))


def _without(params: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in keys}


def _cell(cell: Cell | Mapping[str, Any]) -> Cell:
    return cell if isinstance(cell, Cell) else Cell.from_dict(cell)


def attack_traits(cell: Cell | Mapping[str, Any]) -> AttackTraits | None:
    """The attack traits stored with a cell (None: a run stored before traits existed, and no
    registered plugin to ask)."""
    return _cell(cell).attack_traits


def defense_traits(cell: Cell | Mapping[str, Any]) -> DefenseTraits | None:
    return _cell(cell).defense_traits


def row_defense_traits(report: RunReport, row_id: str) -> DefenseTraits | None:
    """A row's defense traits, from its cells (every cell of a row stores the same)."""
    for c in report.cells:
        if c["row_id"] == row_id:
            t = defense_traits(c)
            if t is not None:
                return t
    return None


def twin_of(report: RunReport, row: Row) -> Row | None:
    """The undefended twin of a row: the row of the same model whose defense declares kind
    ``none`` (never the row itself)."""
    for r in report.rows:
        if r is row or r["model_id"] != row["model_id"]:
            continue
        t = row_defense_traits(report, r["row_id"])
        if t is not None and t.kind == "none" and r.get("diagnostics"):
            return r
    return None


def _norm(n: Any) -> str:
    return "inf" if str(n).lower() in ("inf", "infinity", "linf") else str(n)


def _same_budget(a: AttackTraits, b: AttackTraits) -> bool:
    return a.eps is not None and a.eps == b.eps and _norm(a.norm) == _norm(b.norm)


def data_range(report: RunReport) -> float:
    """Width of the data range the run's inputs live in (runs stored before it was recorded:
    [0, 1], the interface default)."""
    lo, hi = report.run.get("data_range") or (0.0, 1.0)
    return float(hi) - float(lo)


def row_flags(report: RunReport, row: Row) -> list[Flag]:
    """Flags on the deployed model itself, shown on every white-box cell of its row."""
    d = row.get("diagnostics") or {}
    flags: list[Flag] = []
    if "grad_zero_fraction" in d:
        bad = d["grad_zero_fraction"] + d.get("grad_nonfinite_fraction", 0.0)
        flags.append(("zero-gradient", "warn" if bad > ZERO_GRADIENT else "ok",
                      f"{_pct(d['grad_zero_fraction'])} of {d['samples']} clean samples have an "
                      f"exactly zero loss gradient, {_pct(d.get('grad_nonfinite_fraction', 0))} "
                      "a non-finite one"))
    twin = twin_of(report, row)
    saturated = d.get("softmax_saturated_fraction")
    if saturated is not None:
        # a confident undefended model saturates too: only more than its twin is suspicious
        base = twin["diagnostics"].get("softmax_saturated_fraction") if twin else None
        fired = saturated > SATURATED and base is not None and saturated > base + SATURATED_GAP
        versus = "" if base is None else f" (undefended twin: {_pct(base)})"
        flags.append(("saturated-softmax", "warn" if fired else "ok",
                      f"{_pct(saturated)} of samples have an exactly one-hot float32 softmax"
                      + versus))
    scale = d.get("logit_scale_median")
    if twin is not None and scale and twin["diagnostics"].get("logit_scale_median"):
        twin_scale = twin["diagnostics"]["logit_scale_median"]
        ratio = scale / twin_scale
        flags.append(("logit-scale", "warn" if ratio > LOGIT_RATIO else "ok",
                      f"median max|logit| {scale:.3g} vs {twin_scale:.3g} on the undefended "
                      f"twin ({ratio:.3g}x)"))
    defense = row_defense_traits(report, row["row_id"])
    if defense is not None and defense.gradient == "none":
        flags.append(("no-gradient-by-design", "warn",
                      f"defense {row['defense_id']} is not differentiable and declares no BPDA: "
                      "gradient-based attacks on it are not meaningful (use gradient-free or "
                      "BPDA attacks)"))
    return flags


def cell_flags(report: RunReport, cell: Cell | Mapping[str, Any]) -> Iterator[Flag]:
    """Flags that compare a white-box cell with its neighbours in the same row."""
    cell = _cell(cell)
    sr = _sr(cell)
    if math.isnan(sr):
        return
    params, name, traits = _attack(cell), cell["attack_name"], attack_traits(cell)
    same_row = [c for c in report.cells if c["row_id"] == cell["row_id"]
                and c.get("source_row") is None and c != cell and not math.isnan(_sr(c))]
    neighbours = [(c, t) for c in same_row if (t := attack_traits(c)) is not None]
    if traits is not None:
        yield from _budget_flags(report, cell, traits, params, name, neighbours)
        yield from _convergence_flag(report, cell, traits, params, neighbours)
    transfers = [c for c in report.cells if c["row_id"] == cell["row_id"]
                 and c.get("source_row") and c["attack_id"] == cell["attack_id"]
                 and not math.isnan(_sr(c))]
    for moved in transfers:
        beat, test = _beats(report, moved, cell, MARGIN)
        yield ("transfer-beats-white-box", "warn" if beat else "ok",
               f"examples crafted on {moved['source_row']} succeed on {_pct(_sr(moved))} vs "
               f"{_pct(sr)} white-box{test}")
    if traits is not None and traits.loss == "ce":
        for other, ot in neighbours:
            op = _attack(other)
            if (other["attack_name"] == name and ot.loss not in (None, "ce")
                    and _without(op, traits.loss_params) == _without(params, traits.loss_params)):
                beat, test = _beats(report, other, cell, LOSS_GAP)
                yield ("loss-underflow", "warn" if beat else "ok",
                       f"loss {ot.loss} reaches {_pct(_sr(other))} vs {_pct(sr)} with "
                       f"cross-entropy{test}")


def _counts(params: dict[str, Any], keys: tuple[str, ...]) -> dict[str, int] | None:
    """``params[k]`` for each of ``keys`` when every one is a count of work, else None."""
    counts = {k: c for k in keys if (c := work_count(params.get(k))) is not None}
    return counts if len(counts) == len(keys) else None


def _convergence_flag(report: RunReport, cell: Cell, traits: AttackTraits, params: dict[str, Any],
                      neighbours: list[tuple[Cell, AttackTraits]]) -> Iterator[Flag]:
    """``not-converged``: the same attack on the same samples with at least twice the work
    (its declared effort parameters, none of them lower) succeeds on more than a few points
    more (Carlini et al. 2019, section 5.2). The twin is the closest such cell of the row: the
    suite's ``convergence`` option adds one, an explicit sweep of the iterations works too."""
    effort = traits.effort_params
    mine = _counts(params, effort) if effort else None
    if mine is None:
        return
    twins = []
    for other, _ in neighbours:
        theirs = _attack(other)
        more = _counts(theirs, effort)
        if (more is None or other["attack_name"] != cell["attack_name"]
                or other["samples"] != cell["samples"]
                or _without(theirs, effort) != _without(params, effort)):
            continue
        if (all(more[k] >= mine[k] for k in effort)
                and any(0 < 2 * mine[k] <= more[k] for k in effort)):
            twins.append((sum((more[k] + 1) / (mine[k] + 1) for k in effort), other, more))
    if not twins:
        return
    _, twin, more = min(twins, key=lambda t: t[0])
    beat, test = _beats(report, twin, cell, CONVERGED_GAIN)
    changed = ", ".join(f"{k} {mine[k]} -> {more[k]}" for k in effort if more[k] != mine[k])
    yield ("not-converged", "warn" if beat else "ok",
           f"{twin['attack_id']} ({changed}) {_pct(_sr(twin))} vs {_pct(_sr(cell))}{test}")


def _budget_flags(report: RunReport, cell: Cell, traits: AttackTraits,
                  params: dict[str, Any], name: str,
                  neighbours: list[tuple[Cell, AttackTraits]]) -> Iterator[Flag]:
    """Flags of a norm-bounded attack: against other attacks of the same budget, and along
    its own eps sweep."""
    sr, eps = _sr(cell), traits.eps
    if eps is None:  # minimum-norm: nothing bounds it, so it must fool every sample
        if not traits.targeted and cell["metrics"].get("success_denominator"):
            yield ("unbounded-not-total", "warn" if sr < UNBOUNDED_SUCCESS else "ok",
                   f"{_pct(sr)} success with no bound on the perturbation (Carlini et al. "
                   "2019: an unbounded attack must reach 100 %; more iterations or restarts)")
        return
    target = params.get("target")
    same_budget = [(c, t) for c, t in neighbours if _same_budget(traits, t)
                   and _attack(c).get("target") == target]
    if traits.iterative and not traits.gradient_free:
        for other, _ in (p for p in same_budget if not p[1].iterative and not p[1].gradient_free):
            beat, test = _beats(report, other, cell, MARGIN)
            yield ("single-step-beats-iterative", "warn" if beat else "ok",
                   f"{other['attack_id']} {_pct(_sr(other))} vs {_pct(sr)} at eps {eps:g}{test}")
            break
    if not traits.random_noise:
        yield from _best_of(report, "noise-beats-attack", "random noise", cell, eps,
                            [c for c, t in same_budget if t.random_noise])
    if not traits.gradient_free:
        yield from _best_of(report, "gradient-free-beats-gradient", "gradient-free", cell, eps,
                            [c for c, t in same_budget if t.gradient_free and not t.random_noise])
    budget = traits.budget_params
    smaller = [c for c, t in neighbours
               if c["attack_name"] == name and t.eps is not None and t.eps < eps
               and _without(_attack(c), budget) == _without(params, budget)]
    if smaller:
        best = max(smaller, key=_sr)
        beat, test = _beats(report, best, cell, MARGIN)
        yield ("success-not-rising", "warn" if beat else "ok",
               f"{_pct(sr)} at eps {eps:g} vs up to {_pct(_sr(best))} at smaller eps{test}")
    # untargeted L-infinity only: a targeted attack with few steps of eps / iterations can fail
    # at a large eps without any masking (reaching one given class is a much harder goal)
    if (_norm(traits.norm) == "inf" and eps >= LARGE_EPS * data_range(report)
            and not traits.targeted and cell["metrics"].get("success_denominator")):
        yield ("large-eps-failure", "warn" if sr < LARGE_EPS_SUCCESS else "ok",
               f"{_pct(sr)} success at eps {eps:g} (half the data range or more)")


def _best_of(report: RunReport, flag: str, kind: str, cell: Cell, eps: float,
             group: list[Cell]) -> Iterator[Flag]:
    """``flag`` when the best cell of ``group`` (attacks of one kind at the same budget) beats
    ``cell`` by more than MARGIN (see :func:`_beats`); nothing when the group is empty."""
    if not group:
        return
    best = max(group, key=_sr)
    beat, test = _beats(report, best, cell, MARGIN)
    yield (flag, "warn" if beat else "ok",
           f"{best['attack_id']} ({kind}) {_pct(_sr(best))} vs {_pct(_sr(cell))} at eps "
           f"{eps:g}{test}")


def compute_flags(report: RunReport) -> dict[int, list[Flag]]:
    """Cell primary key -> flags, for every white-box cell that passed."""
    out: dict[int, list[Flag]] = {}
    per_row = {r["row_id"]: row_flags(report, r) for r in report.rows}
    for cell in report.cells:
        if cell.get("source_row") is not None or cell["status"] != "ok":
            continue
        out[cell["id"]] = per_row.get(cell["row_id"], []) + list(cell_flags(report, cell))
    return out


def update_stats(store: Store, run_id: int, plugins: Any = None) -> dict[str, Any]:
    """Compute and store the statistics of ``run_id`` (flags, robust accuracy, verdicts), in
    one transaction; ``plugins`` (a loaded registry) supplies the traits of cells stored before
    traits existed. Returns them: :func:`summary` and ``flags`` (cell id -> flags as dicts)."""
    import dataclasses

    from bench.results.records import Flag as FlagRecord

    results = load_results(store, run_id, plugins)
    flags = compute_flags(results)
    results.cells = [dataclasses.replace(c, flags=tuple(
        FlagRecord(*f) for f in flags.get(c.id, []))) for c in results.cells]
    stats = summary(results)
    store.set_stats(run_id, stats,
                    [(pk, name, status, evidence) for pk, fl in flags.items()
                     for name, status, evidence in fl])
    return {**stats, "flags": {c.cell_id: [f.to_dict() for f in c.flags]
                               for c in results.cells if c.flags}}


#: the earlier name of :func:`update_stats`
update_flags = update_stats


def summary(results: RunResults) -> dict[str, Any]:
    """The run-level statistics stored beside the flags (which ``results`` must carry)."""
    return {"robust_accuracy": robust_accuracy(results), "verdicts": masking_verdicts(results),
            "threat_models": threat_models(results)}


def threat_models(results: RunResults) -> dict[str, Any]:
    """Robust accuracy per row and threat model (the suite's ``threat_models``, else one per
    distinct bound that ran) and each row's robustness curve per norm (see
    :mod:`bench.results.threat`)."""
    tms = threat.declared(results.run.suite) or threat.implied(results.cells)
    rows: dict[str, list[dict[str, Any]]] = {}
    curves: dict[str, list[dict[str, Any]]] = {}
    for rid in results.row_ids:
        cells = [c for c in results.cells if c.row_id == rid and c.status == "ok" and c.samples]
        rows[rid] = [threat.accuracy(cells, results.samples, tm) for tm in tms]
        norms = dict.fromkeys(tm.norm for tm in tms)
        curves[rid] = [cv for n in norms if (cv := threat.curve(cells, results.samples, n))]
    return {"models": [tm.to_dict() for tm in tms], "rows": rows, "curves": curves}


def robust_accuracy(results: RunResults) -> dict[str, dict[str, Any]]:
    """Per row: accuracy under the per-sample worst case over every attack (white-box and
    transfer) evaluated on it, over the samples all its cells share (RobustBench style).

    Slow attacks often run on fewer samples, which makes that shared prefix small, so each
    row also gets ``tiers``: for every distinct sample count n of its cells (ascending), the
    worst case over the first n samples and the cells that ran on at least n of them (the
    first tier is the headline; later tiers cover more samples with fewer attacks).
    An upper bound on robustness: only the listed attacks were tried.
    """
    out: dict[str, dict[str, Any]] = {}
    for rid in results.row_ids:
        cells = [c for c in results.cells if c.row_id == rid and c.status == "ok" and c.samples]
        correct = {c.id: [s.adv_pred == s.label and s.clean_pred == s.label
                          for s in results.samples(c)] for c in cells}
        tiers = []
        for n in sorted({len(v) for v in correct.values()}):
            covering = [v for v in correct.values() if len(v) >= n]
            robust = [all(v[i] for v in covering) for i in range(n)]
            if robust:
                tiers.append(threat.tier(n, len(covering), sum(robust)))
        if tiers:
            out[rid] = {**tiers[0], "tiers": tiers}
    return out


def masking_verdicts(report: RunReport) -> list[dict[str, Any]]:
    """Per row whose deployed model raises a row-level flag (zero gradients, saturation, logit
    scale, no gradient by design): the verdict that its apparent robustness is gradient
    masking, with the evidence: the row's flags, the cell flags raised on it, and its
    strongest white-box attack."""
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
