"""No defense: the model trained on hard labels at temperature 1."""

from __future__ import annotations

from typing import Any

from bench.interfaces import Defense, DefenseTraits, Trainer


class NoDefense(Defense):
    name = "none"
    version = "1.0.0"
    description = "Undefended model, trained on hard labels"

    def apply(self, trainer: Trainer) -> Any:
        return trainer.undefended()

    def traits(self) -> DefenseTraits:
        return DefenseTraits(kind="none")
