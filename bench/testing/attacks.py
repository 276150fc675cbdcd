"""``check_attack``: the contract every attack plugin must keep, checked the way the host runs it
(:mod:`bench.checks` judges each batch, read-only inputs, host-computed targets)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.checks import ATOL, check_adversarial, check_bound
from bench.errors import AttackCheckError, BenchError
from bench.interfaces import Attack, AttackOutput, AttackTraits
from bench.run.faults import readonly_copy
from bench.targets import check_target, compute_targets
from bench.testing.report import ContractReport, instance, label
from bench.traits import work_count

#: an attack "claims a large budget" (and must then hit its targets, see ``check_attack``) when
#: its eps, as a fraction of the data range, reaches this in the L-infinity norm; the L2 and L1
#: thresholds are the norms of that L-infinity perturbation on every pixel (so their balls
#: contain it), L0 is half the pixels
LARGE_EPS = 0.25
#: targeted success an iterative or minimum-norm attack with a large budget must reach on the
#: tiny model (85 % clean accuracy; BIM and I-FGSM reach 94-100 % at eps 0.25, FGSM 75 %)
MIN_TARGETED_SUCCESS = 0.5


def _norm_key(norm: Any) -> Any:
    """``"inf"``, 0, 1 or 2 from any accepted spelling (``2.0``, ``math.inf``)."""
    checked = check_bound((norm, 0.0))
    assert checked is not None
    return checked[0]


def _large_budget(norm: Any, x: np.ndarray, clip: tuple[float, float]) -> float:
    d = int(np.prod(x.shape[1:]))
    r = float(clip[1] - clip[0])
    return {"inf": LARGE_EPS * r, 2: LARGE_EPS * r * math.sqrt(d), 1: LARGE_EPS * r * d,
            0: d / 2}[norm]


def _generate(attack: Attack, model: Any, x: np.ndarray, y: np.ndarray,
              targets: np.ndarray | None, clip: tuple[float, float], num_classes: int,
              report: ContractReport) -> np.ndarray:
    """One ``generate`` call as the host makes it: read-only private copies in, a copy out."""
    handed = readonly_copy(x)
    try:
        out = attack.generate(model, handed, np.array(y),
                              None if targets is None else np.array(targets), clip, num_classes)
    except ValueError as exc:
        if "read-only" in str(exc):
            report.fail("input not mutated", f"generate() wrote into its read-only input ({exc})")
        raise
    if not np.array_equal(handed, x, equal_nan=True):
        report.fail("input not mutated", "generate() changed its input x in place")
    if not isinstance(out, AttackOutput):
        report.fail("returns AttackOutput", f"generate() returned {type(out).__qualname__}")
    x_adv = np.asarray(out.x_adv)
    if x_adv.shape != x.shape or x_adv.dtype != x.dtype:
        report.fail("shape and dtype", f"x_adv is {x_adv.dtype}{list(x_adv.shape)}, the input "
                    f"{x.dtype}{list(x.shape)}")
    return np.array(x_adv, copy=True)


def check_attack(attack: type[Attack] | Attack, model: Any = None, data: Any = None, *,
                 params: dict[str, Any] | None = None, samples: int = 16,
                 deterministic: bool = True, batch_dependent: bool = False,
                 min_targeted_success: float | None = MIN_TARGETED_SUCCESS) -> ContractReport:
    """Check an attack's contract on a real model; raise ``AssertionError`` naming the first
    violated property, else return a :class:`ContractReport`.

    ``attack`` is a class (instantiated with ``params``, validated like a suite's) or an
    instance. ``model`` is a Keras logits model (default: the kit's tiny trained model) and
    ``data`` a :class:`~bench.interfaces.DataSplit` (default: the kit's 60 test digits), of which
    the first ``samples`` are attacked. Properties, in order:

    - **traits**: ``bound()`` is None or a valid ``(norm, eps)``; ``traits()`` returns an
      :class:`~bench.traits.AttackTraits` whose norm and eps equal the bound's (no eps when
      there is no bound: the host would not check it) and whose ``targeted`` matches;
    - **input not mutated** (inputs are read-only, as in a run), **returns AttackOutput**,
      **shape and dtype** equal to the input's;
    - **finite and inside clip_values**, **within the declared bound** (:mod:`bench.checks`,
      the host's own check of every batch);
    - **seed determinism**: a second call gives identical examples (``deterministic=False``
      skips it and the next one, for attacks that are random by design);
    - **batch-split invariance**: attacking ``[a; b]`` in one call equals attacking ``a`` then
      ``b``, to within float rounding (1e-5 of the data range per pixel), as the host calls
      ``generate`` once per evaluation batch; ``batch_dependent=True`` skips it for attacks
      documented to depend on their batch;
    - **targeted success**: a targeted attack (``params.target`` set; targets computed by the
      host's rule) that is iterative or minimum-norm and claims a large budget (eps >= 0.25 of
      the data range in L-inf, or the L2 / L1 norm of that on every pixel) must fool the tiny
      model into the target on at least ``min_targeted_success`` (50 %) of the samples whose
      label differs from the target (None skips it).
    """
    from bench.testing.data import tiny_data

    atk: Attack = instance(attack, Attack, "check_attack", params)
    report = ContractReport(label(atk, "attack"))
    if model is None:
        from bench.testing.models import tiny_model

        model = tiny_model()
    data = data if data is not None else tiny_data().test
    x, y = np.asarray(data.x[:samples]), np.asarray(data.y[:samples])
    clip, k = data.clip_values, data.num_classes
    bound = _check_traits(atk, report)

    spec = getattr(atk.params, "target", None)
    logits = np.asarray(model(x, training=False))
    try:
        check_target(spec, k, "target")
        targets = compute_targets(spec, y, logits, k, seed=0)
    except BenchError as exc:
        report.fail("targets", str(exc))

    x_adv = _generate(atk, model, x, y, targets, clip, k, report)
    report.ok("input not mutated")
    report.ok("shape and dtype")
    try:
        check_adversarial(x, x_adv, clip, None)
    except AttackCheckError as exc:
        report.fail("finite and inside clip_values", str(exc))
    report.ok("finite and inside clip_values")
    if bound is None:
        report.skip("within the declared bound", "bound() is None (no budget promised)")
    else:
        try:
            check_adversarial(x, x_adv, clip, bound)
        except AttackCheckError as exc:
            report.fail("within the declared bound", str(exc))
        report.ok("within the declared bound")

    _check_repeatable(atk, model, x, y, targets, clip, k, x_adv, report,
                      deterministic, batch_dependent)
    _check_targeted(atk, model, x, x_adv, y, targets, clip, bound, report, min_targeted_success)
    return report


def _check_traits(atk: Attack, report: ContractReport) -> tuple[Any, float] | None:
    try:
        bound = check_bound(atk.bound())
    except AttackCheckError as exc:
        report.fail("traits", str(exc))
    traits = atk.traits()
    if not isinstance(traits, AttackTraits):
        report.fail("traits", f"traits() returned {type(traits).__qualname__}, not "
                    "bench.traits.AttackTraits")
    if traits.targeted != atk.targeted:
        report.fail("traits", f"traits().targeted is {traits.targeted} but the attack is "
                    f"{'' if atk.targeted else 'un'}targeted (params.target)")
    if bound is None:
        if traits.eps is not None:
            report.fail("traits", f"traits().eps is {traits.eps:g} but bound() is None: the "
                        "host checks only bound(); declare both or neither")
    else:
        norm, eps = bound
        if traits.norm is None or _norm_key(traits.norm) != norm:
            report.fail("traits", f"traits().norm is {traits.norm!r} but bound() promises "
                        f"the L{norm} norm")
        if traits.eps is None or not math.isclose(traits.eps, eps, rel_tol=1e-9, abs_tol=1e-12):
            report.fail("traits", f"traits().eps is {traits.eps!r} but bound() promises "
                        f"eps={eps:g}")
    for group in ("budget_params", "loss_params", "effort_params"):
        unknown = [p for p in getattr(traits, group) if p not in type(atk.params).model_fields]
        if unknown:
            report.fail("traits", f"traits().{group} names {', '.join(unknown)}, not "
                        "parameters of the attack")
    uncountable = [p for p in traits.effort_params if p in type(atk.params).model_fields
                   and work_count(getattr(atk.params, p)) is None]
    if uncountable:
        report.fail("traits", f"traits().effort_params names {', '.join(uncountable)}, not "
                    "integer counts of 0 or more (the convergence check doubles them)")
    report.ok("traits")
    report.measured["traits"] = traits.to_dict()
    return bound


def _check_repeatable(atk: Attack, model: Any, x: np.ndarray, y: np.ndarray,
                      targets: np.ndarray | None, clip: tuple[float, float], k: int,
                      x_adv: np.ndarray, report: ContractReport, deterministic: bool,
                      batch_dependent: bool) -> None:
    if not deterministic:
        report.skip("seed determinism", "deterministic=False")
        report.skip("batch-split invariance", "deterministic=False")
        return
    again = _generate(atk, model, x, y, targets, clip, k, report)
    if not np.array_equal(again, x_adv, equal_nan=True):
        diff = int((again != x_adv).reshape(len(x), -1).any(axis=1).sum())
        report.fail("seed determinism", f"a second call with the same inputs changed {diff} of "
                    f"{len(x)} examples (pass deterministic=False if it is random by design)")
    report.ok("seed determinism")
    if batch_dependent:
        report.skip("batch-split invariance", "batch_dependent=True")
        return
    if len(x) < 2:
        report.skip("batch-split invariance", "fewer than 2 samples")
        return
    cut = len(x) // 2 - 1 if len(x) > 3 else 1  # uneven halves
    parts = [_generate(atk, model, x[s], y[s], None if targets is None else targets[s], clip, k,
                       report) for s in (slice(None, cut), slice(cut, None))]
    split = np.concatenate(parts)
    # batched convolutions round differently for another batch size: a float tolerance
    # (bench.checks.ATOL of the data range); a real batch dependence moves pixels by far more
    atol = ATOL * float(clip[1] - clip[0])
    far = np.abs(split - x_adv) > atol
    if np.isnan(split).any() or far.any():
        rows = far.reshape(len(x), -1).any(axis=1)
        worst = float(np.nanmax(np.abs(split - x_adv)))
        report.fail("batch-split invariance", f"attacking the {len(x)} samples as {cut} + "
                    f"{len(x) - cut} changed {int(rows.sum())} examples (by up to {worst:.3g}); "
                    "the host calls generate() once per evaluation batch (pass "
                    "batch_dependent=True if the attack documents this)")
    report.ok("batch-split invariance")


def _check_targeted(atk: Attack, model: Any, x: np.ndarray, x_adv: np.ndarray, y: np.ndarray,
                    targets: np.ndarray | None, clip: tuple[float, float],
                    bound: tuple[Any, float] | None, report: ContractReport,
                    threshold: float | None) -> None:
    prop = "targeted success"
    traits = atk.traits()
    if targets is None:
        return report.skip(prop, "untargeted")
    if threshold is None:
        return report.skip(prop, "min_targeted_success=None")
    if not traits.iterative:
        return report.skip(prop, "single-step attack")
    large = None if bound is None else _large_budget(bound[0], x, clip)
    if bound is not None and large is not None and bound[1] < large:
        return report.skip(prop, f"eps={bound[1]:g} is below the large budget {large:g}")
    pred = np.asarray(model(x_adv, training=False)).argmax(axis=1)
    asked = targets != y
    if not asked.any():
        return report.skip(prop, "every target equals the true label")
    rate = float((pred[asked] == targets[asked]).mean())
    report.measured["targeted_success"] = rate
    if rate < threshold:
        claim = "a minimum-norm attack" if bound is None else f"eps={bound[1]:g}"
        report.fail(prop, f"{rate:.0%} of {int(asked.sum())} samples reach their target on the "
                    f"model, expected at least {threshold:.0%} from {claim} "
                    "(min_targeted_success=None skips this for settings not meant to succeed)")
    report.ok(prop)
