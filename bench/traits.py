"""What a plugin declares about itself, so that the host never needs to know it by name.

Sanity flags, figures, robust accuracy and the suite's defaults read these declarations: a
third-party attack that declares its traits gets the same flags and figures as a built-in. They
are stored with every cell (``plugins[kind]["traits"]``), so reports of old runs need no plugin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

#: ``"inf"``, 0, 1 or 2
Norm = str | int

#: what a defense changes
DefenseKind = Literal["none", "training", "input-transformation", "model-wrapper"]
#: how an attack gets gradients of the deployed model: exactly; through a declared
#: Backward Pass Differentiable Approximation (BPDA, Athalye et al. 2018) of a
#: non-differentiable part; or not at all (the forward pass is not differentiable)
GradientKind = Literal["exact", "bpda", "none"]


@dataclass(frozen=True)
class AttackTraits:
    """An attack's threat model and nature (:meth:`bench.interfaces.Attack.traits`)."""

    #: the norm its perturbation is measured in: ``"inf"``, 0, 1 or 2 (None: none applies)
    norm: Norm | None = None
    #: the budget it promises, ``||x_adv - x||_norm <= eps``; None for a minimum-norm attack
    #: (Carlini-Wagner, DeepFool), which looks for the smallest perturbation instead
    eps: float | None = None
    #: False for a single-step attack (FGSM): compared with iterative ones at the same eps
    iterative: bool = True
    #: True for score- or decision-based attacks (Square, HopSkipJump): immune to masking
    gradient_free: bool = False
    #: True for a random-noise baseline (not an optimising attack): an attack that does worse
    #: than noise at the same budget is broken or masked (flag ``noise-beats-attack``)
    random_noise: bool = False
    targeted: bool = False
    #: the loss it ascends (``"ce"``: cross-entropy; ``"margin"``, ``"dlr"``, ...) when it has one
    loss: str | None = None
    #: parameters that set the budget and move together along an eps sweep (eps, its step)
    budget_params: tuple[str, ...] = ()
    #: parameters that choose the loss (compared by the loss-underflow flag)
    loss_params: tuple[str, ...] = ()
    #: integer parameters that count its work (iterations, restarts, queries), the first the
    #: one to double: a suite's ``convergence`` check doubles it, and the not-converged flag
    #: compares the attack with its doubled twin
    effort_params: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in _PARAM_GROUPS:
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttackTraits:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in _PARAM_GROUPS:
            known[k] = tuple(known.get(k, ()))
        return cls(**known)


#: the traits that name parameters
_PARAM_GROUPS = ("budget_params", "loss_params", "effort_params")


def work_count(value: Any) -> int | None:
    """``value`` as a count of work (what an ``effort_params`` parameter must hold): an integer
    of 0 or more (0 restarts: none), not a bool; None when it is anything else."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return int(value) if ok else None


@dataclass(frozen=True)
class DefenseTraits:
    """What a defense does (:meth:`bench.interfaces.Defense.traits`)."""

    #: ``none`` (the undefended baseline: the twin every defended row is compared with),
    #: ``training`` (changes how the network is trained), ``input-transformation`` (wraps the
    #: trained network with a preprocessing step), ``model-wrapper`` (ensembles, detectors)
    kind: DefenseKind = "training"
    #: how attacks get gradients of the deployed model (see :data:`GradientKind`)
    gradient: GradientKind = "exact"
    #: the parameter that is its strength, the x axis of its figure (``temperature``, ``eps``)
    sweep: str | None = None
    #: the value of ``sweep`` at which the defense is no defense (T = 1, eps = 0): the
    #: undefended twin is drawn there
    sweep_origin: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DefenseTraits:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
