"""``autoattack``: ART's ``AutoAttack`` running the standard ensemble of Croce & Hein (2020).

The standard version (the one RobustBench reports) runs, each on the samples still robust:

1. APGD-CE: untargeted APGD on the cross-entropy, 100 iterations, 1 start;
2. APGD-T: targeted APGD on a DLR loss against each of the 9 classes the model ranks highest
   after the true one, 100 iterations, 1 start per target;
3. FAB-T: **left out**, ART has no FAB attack (Croce & Hein report it adds < 0.1 point on
   their models; CW-L2 / DeepFool cover the minimum-norm side here);
4. Square: 5000 queries, 1 start (score-based, no gradients).

ART's own default ensemble (``attacks=None``) differs and is not used: APGD-CE and untargeted
APGD-DLR with 5 starts each, DeepFool and Square with 5 restarts; its ``targeted=True`` runs
*every* member against every class, so APGD-T is :class:`_ApgdTargeted` below. A sample counts
as broken if any member misclassifies it within eps (ART's ``run_attack``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from bench.interfaces import AttackOutput, AttackParams, AttackTraits
from bench_builtin.attacks.art import _ArtAttack, art_classifier
from bench_builtin.attacks.art_bounded import apgd_estimator, art_norm, seeded, untargeted_only

_APGD_T: Any = None


def apgd_targeted_class() -> Any:
    """ART's APGD as Croce & Hein's APGD-T (defined on first use: imports ART)."""
    global _APGD_T
    if _APGD_T is not None:
        return _APGD_T
    from art.attacks.evasion import AutoProjectedGradientDescent

    class _ApgdTargeted(AutoProjectedGradientDescent):  # type: ignore[misc]
        """APGD-T: targeted APGD against the ``n_target_classes`` classes ranked highest after
        the true one, in turn, on the samples still correctly classified. Untargeted from the
        outside (``y``: true labels), as AutoAttack runs it."""

        def __init__(self, estimator: Any, n_target_classes: int, **kwargs: Any) -> None:
            super().__init__(estimator, targeted=False, loss_type=None, **kwargs)
            self.n_target_classes = n_target_classes

        def generate(self, x: np.ndarray, y: np.ndarray | None = None,
                     **kwargs: Any) -> np.ndarray:
            assert y is not None
            k = self.estimator.nb_classes
            true = np.argmax(y, axis=1)
            logits = self.estimator.predict(x, batch_size=self.batch_size)
            order = np.argsort(-logits, axis=1, kind="stable")
            others = order[order != true[:, None]].reshape(len(x), k - 1)
            x_adv = x.astype(np.float32, copy=True)
            robust = logits.argmax(axis=1) == true
            for rank in range(min(self.n_target_classes, k - 1)):
                if not robust.any():
                    break
                self.targeted = True  # ART's APGD descends the DLR towards y
                try:
                    out = super().generate(x[robust], np.eye(k, dtype=np.float32)[
                        others[robust, rank]], **kwargs)
                finally:
                    self.targeted = False
                x_adv[robust] = out
                pred = self.estimator.predict(x_adv, batch_size=self.batch_size).argmax(axis=1)
                robust = robust & (pred == true)
            return x_adv

    _APGD_T = _ApgdTargeted
    return _APGD_T


class AutoAttackParams(AttackParams):
    norm: Literal["inf", 2] = Field(
        default="inf", description="L-inf or L2: the threat models of the standard version")
    eps: float = Field(default=0.3, gt=0)
    # ART's default is 0.1 whatever eps; Croce & Hein start APGD's step at 2 * eps
    eps_step: float | None = Field(default=None, gt=0, description="APGD's first step; "
                                   "default 2 * eps")
    max_iter: int = Field(default=100, gt=0, description="APGD-CE and APGD-T iterations")
    n_target_classes: int = Field(default=9, gt=0, description="APGD-T's targets: the classes "
                                  "ranked highest after the true one")
    square_max_iter: int = Field(default=5000, gt=0, description="Square's queries")
    batch_size: int = Field(default=32, gt=0)
    seed: int = Field(default=0, description="seed of APGD's starts and Square's squares")

    @field_validator("target")
    @classmethod
    def _untargeted(cls, v: Any) -> Any:
        return untargeted_only("autoattack", v)


class AutoAttack(_ArtAttack):
    name = "autoattack"
    version = "1.0.0"
    description = ("AutoAttack (Croce & Hein 2020), standard ensemble: APGD-CE, APGD-T, "
                   "Square (FAB-T left out: not in ART); ART AutoAttack")
    Params = AutoAttackParams
    art_class = "AutoAttack"

    def bound(self) -> tuple[float | str, float]:
        p: Any = self.params
        return (p.norm, p.eps)

    def traits(self) -> AttackTraits:
        p: Any = self.params
        # an ensemble (worst case over CE, DLR and Square's margin): no one loss; it uses
        # gradients, so not gradient-free as a whole
        return AttackTraits(norm=p.norm, eps=p.eps, targeted=False, loss=None,
                            budget_params=("eps", "eps_step"), effort_params=("max_iter",))

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        from art.attacks.evasion import AutoAttack as ArtAutoAttack
        from art.attacks.evasion import AutoProjectedGradientDescent, SquareAttack

        p: Any = self.params
        shape = tuple(x.shape[1:])
        norm = art_norm(p.norm)
        step = p.eps_step if p.eps_step is not None else 2 * p.eps
        common = dict(norm=norm, eps=p.eps, eps_step=step, max_iter=p.max_iter,
                      nb_random_init=1, batch_size=p.batch_size, verbose=False)
        members = [AutoProjectedGradientDescent(
            apgd_estimator(model, num_classes, shape, clip_values, "ce"), loss_type=None,
            targeted=False, **common)]
        if num_classes >= 3:  # the DLR loss needs three logits
            members.append(apgd_targeted_class()(
                apgd_estimator(model, num_classes, shape, clip_values, "dlr"),
                n_target_classes=p.n_target_classes, **common))
        classifier = art_classifier(model, num_classes, shape, clip_values)
        members.append(SquareAttack(classifier, norm=norm, eps=p.eps, max_iter=p.square_max_iter,
                                    p_init=0.8, nb_restarts=1, batch_size=p.batch_size,
                                    verbose=False))
        attack = ArtAutoAttack(classifier, norm=norm, eps=p.eps, eps_step=step, attacks=members,
                               batch_size=p.batch_size, targeted=False)
        with seeded(p.seed):
            x_adv = attack.generate(x=x.astype(np.float32),
                                    y=np.eye(num_classes, dtype=np.float32)[y])
        names = ["apgd-ce", "apgd-t", "square"] if num_classes >= 3 else ["apgd-ce", "square"]
        best = np.asarray(attack.best_attacks)
        broken = {n: int((best == i).sum()) for i, n in enumerate(names)}
        return AttackOutput(np.asarray(x_adv, dtype=np.float32),
                            info={"art_class": self.art_class, "broken_by": broken})
