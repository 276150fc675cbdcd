"""Robust accuracy per threat model, and robustness curves, from per-sample results and the
attacks' declared traits.

A threat model is a norm and a budget (``{norm: inf, eps: 0.1}``). A sample is robust under it
when the row's network classifies it correctly and no attack evaluated within that budget fools
it. Which attacks count, by their declared traits (never their names):

- a **bounded** attack (``traits.eps`` set) counts when its bound fits the budget: the same
  norm and ``eps <= budget``; every misclassification it causes counts;
- a **minimum-norm** attack (``traits.eps`` None: Carlini-Wagner, DeepFool, HopSkipJump)
  counts its misclassifications whose measured perturbation (per sample, in the threat
  model's norm) is within the budget;
- white-box and transfer cells alike (a transferred example is an example).

Slow attacks often run on fewer samples; as for the worst case, each threat model gets tiers:
for every distinct sample count n of the counting cells, the accuracy over the first n samples
under the cells that ran on at least n. The first tier is the headline. Like every robust
accuracy here it is an upper bound: only the attacks listed were tried. Every tier carries the
exact 95 % interval of its samples (``interval``: what other samples could change, not what
stronger attacks would).

The curve of a row and a norm (a security evaluation curve, Biggio & Roli 2018) is robust
accuracy as a function of the budget: per sample, the smallest budget at which some attack is
known to fool it (a bounded attack's bound, a minimum-norm attack's measured norm, 0 for a
clean error), every sample under the attacks that ran on it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scipy.stats import binomtest

from bench.results.records import Cell, Sample
from bench.traits import AttackTraits

#: confidence level of the interval given with every robust accuracy
CONFIDENCE = 0.95
#: relative slack on a budget: a float32 perturbation measured at eps (1 + 1e-5) is within eps
SLACK = 1e-5
#: the per-sample norms the store keeps
MEASURED = {"inf": "linf", "2": "l2", "0": "l0"}


def norm_key(norm: Any) -> str:
    """``"inf"``, ``"2"``, ``"1"`` or ``"0"`` for any spelling (``inf``, ``np.inf``, 2, 2.0)."""
    if isinstance(norm, str):
        return "inf" if norm.lower() in ("inf", "linf", "l-inf") else norm
    if isinstance(norm, float) and math.isinf(norm):
        return "inf"
    return str(int(norm))


@dataclass(frozen=True)
class ThreatModel:
    norm: str  # "inf", "2", "1" or "0"
    eps: float

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> ThreatModel:
        return cls(norm_key(spec["norm"]), float(spec["eps"]))

    @property
    def label(self) -> str:
        """``L-inf 0.1``, ``L2 1.5``, ``L0 10``."""
        return f"L{'-inf' if self.norm == 'inf' else self.norm} {self.eps:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"norm": self.norm, "eps": self.eps, "label": self.label}

    def within(self, value: float | None) -> bool:
        return value is not None and value <= self.eps * (1 + SLACK) + 1e-7


def declared(suite: Mapping[str, Any] | None) -> list[ThreatModel]:
    """The threat models a suite declares (``threat_models:``), in its order."""
    specs = (suite or {}).get("threat_models") or []
    return [ThreatModel.of(s) for s in specs]


def implied(cells: Iterable[Cell]) -> list[ThreatModel]:
    """Without declared ones: every distinct bound of the bounded attacks that ran."""
    found = {(norm_key(t.norm), float(t.eps)) for c in cells
             if (t := c.attack_traits) is not None and t.eps is not None and t.norm is not None}
    return [ThreatModel(n, e) for n, e in sorted(found, key=lambda ne: (ne[0] != "inf", ne))]


def _counts(traits: AttackTraits | None, tm: ThreatModel) -> str | None:
    """``"all"``: every misclassification counts; ``"measured"``: those within the budget by
    their measured norm; None: the cell is not evaluated within this threat model."""
    if traits is None or traits.norm is None:
        return None
    if traits.eps is not None:
        fits = norm_key(traits.norm) == tm.norm and tm.within(traits.eps)
        return "all" if fits else None
    return "measured" if tm.norm in MEASURED else None


def _fooled(s: Sample, how: str, tm: ThreatModel) -> bool:
    wrong = s.adv_pred is not None and s.adv_pred != s.label
    if how == "all" or not wrong:
        return wrong
    return tm.within(getattr(s, MEASURED[tm.norm]))


def _counting(cells: list[Cell], samples: Any, tm: ThreatModel
              ) -> list[tuple[Cell, str, list[Sample]]]:
    out = []
    for c in cells:
        how = _counts(c.attack_traits, tm)
        if how is not None:
            out.append((c, how, list(samples(c))))
    return out


def interval(robust: int, samples: int) -> list[float]:
    """The exact (Clopper-Pearson) 95 % interval of a robust accuracy of ``robust`` out of
    ``samples``: how far other samples of the same data could move it. Not how far stronger
    attacks would lower it: the accuracy stays an upper bound whatever its interval."""
    ci = binomtest(robust, samples).proportion_ci(CONFIDENCE, method="exact")
    return [float(ci.low), float(ci.high)]


def tier(samples: int, attacks: int, robust: int) -> dict[str, Any]:
    """A robust accuracy over the first ``samples`` samples under ``attacks`` attacks."""
    return {"samples": samples, "attacks": attacks, "robust_accuracy": robust / samples,
            "interval": interval(robust, samples)}


def fill_intervals(entries: Iterable[dict[str, Any]]) -> None:
    """Give the tiers (and the headline) of robust accuracies stored before intervals were
    their interval, from the accuracy and the sample count."""
    for entry in entries:
        for t in (entry, *entry.get("tiers", ())):
            acc, n = t.get("robust_accuracy"), t.get("samples")
            if "interval" not in t and acc is not None and n:
                t["interval"] = interval(round(acc * n), n)


def margin(t: Mapping[str, Any]) -> float | None:
    """The larger side of a tier's interval, in accuracy units: ``±`` in compact displays."""
    iv, acc = t.get("interval"), t.get("robust_accuracy")
    return None if not iv or acc is None else max(acc - iv[0], iv[1] - acc)


def plus_minus(t: Mapping[str, Any]) -> str:
    """``±2.2``: :func:`margin` in points, as every report prints it ("" without an interval)."""
    m = margin(t)
    return "" if m is None else f"\u00b1{100 * m:.1f}"


def accuracy(cells: list[Cell], samples: Any, tm: ThreatModel) -> dict[str, Any]:
    """One row's robust accuracy under ``tm`` with its tiers (``samples(cell)`` gives a cell's
    per-sample records). ``robust_accuracy`` is None when no attack ran within the budget."""
    counting = _counting(cells, samples, tm)
    tiers = []
    for n in sorted({len(s) for _, _, s in counting if s}):
        covering = [(how, s) for _, how, s in counting if len(s) >= n]
        robust = [covering[0][1][i].clean_pred == covering[0][1][i].label
                  and not any(_fooled(s[i], how, tm) for how, s in covering)
                  for i in range(n)]
        tiers.append(tier(n, len(covering), sum(robust)))
    head = tiers[0] if tiers else {"samples": 0, "attacks": 0, "robust_accuracy": None}
    return {**tm.to_dict(), **head, "tiers": tiers}


def curve(cells: list[Cell], samples: Any, norm: Any) -> dict[str, Any] | None:
    """Robust accuracy versus budget in ``norm`` for one row: ``points`` [(eps, accuracy)] at
    every budget where it changes. Every sample counts, under every attack that ran on it
    (slow attacks run on fewer samples); ``samples`` is their number, ``attacks`` the number
    of cells counted."""
    key = norm_key(norm)
    everything = ThreatModel(key, math.inf)
    counting = [(c, s) for c, _, s in _counting(cells, samples, everything) if s]
    if not counting or key not in MEASURED:
        return None
    n = max(len(s) for _, s in counting)
    radius = []
    for i in range(n):
        here = [(c, s[i]) for c, s in counting if len(s) > i]
        first = here[0][1]
        r = 0.0 if first.clean_pred != first.label else math.inf
        for c, si in here:
            t = c.attack_traits
            if r == 0.0 or si.adv_pred is None or si.adv_pred == si.label:
                continue
            size = t.eps if t is not None and t.eps is not None else getattr(si, MEASURED[key])
            if size is not None:
                r = min(r, float(size))
        radius.append(r)
    steps = sorted({r for r in radius if math.isfinite(r)} | {0.0})
    points = [(e, sum(r > e * (1 + SLACK) + 1e-7 for r in radius) / n) for e in steps]
    return {"norm": key, "samples": n, "attacks": len(counting), "points": points}
