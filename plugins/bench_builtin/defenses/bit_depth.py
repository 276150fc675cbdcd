"""Bit-depth reduction (feature squeezing, Xu et al. 2018): the undefended network deployed
behind a quantisation of its input to ``bits`` bits per value.

Quantisation has a zero gradient almost everywhere: attacked through it (``gradient: none``)
the network looks robust, attacked with BPDA (``gradient: bpda``, the default: identity on the
backward pass) it is not. Both rows side by side show gradient obfuscation.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from bench.interfaces import Defense, DefenseTraits, Params, Trainer
from bench.wrappers import input_transformation


class BitDepthParams(Params):
    bits: int = Field(default=1, ge=1, le=8, description="bits kept per value")
    gradient: Literal["bpda", "none"] = Field(
        default="bpda", description="bpda: attacks differentiate through the identity; none: "
        "gradients stop at the quantisation (shows the obfuscation)")


class BitDepth(Defense):
    name = "bit-depth"
    version = "1.0.0"
    description = "Bit-depth reduction of the input (feature squeezing), BPDA or no gradient"
    Params = BitDepthParams

    def apply(self, trainer: Trainer) -> Any:
        p: Any = self.params
        lo, hi = (float(c) for c in trainer.train_data.clip_values)
        levels = float(2 ** p.bits - 1)

        def squeeze(x: Any) -> Any:
            import tensorflow as tf

            unit = tf.clip_by_value((x - lo) / (hi - lo), 0.0, 1.0)
            return lo + (hi - lo) * tf.round(unit * levels) / levels

        return input_transformation(trainer.undefended(), squeeze, gradient=p.gradient,
                                    name=f"bit_depth_{p.bits}")

    def traits(self) -> DefenseTraits:
        p: Any = self.params
        return DefenseTraits(kind="input-transformation", gradient=p.gradient, sweep="bits")
