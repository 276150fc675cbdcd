"""Defenses that wrap a trained network: input transformations, with their gradient declared.

An input transformation (bit-depth reduction, JPEG, denoising) deploys ``network(t(x))``. How an
attack sees its gradient is part of the evaluation, so the wrapper makes it explicit and the
defense declares the same in :class:`bench.traits.DefenseTraits` (``gradient``):

- ``"exact"``: ``t`` is differentiable and attacks get its true gradient;
- ``"bpda"``: the forward pass is ``t(x)``, the backward pass the identity (Backward Pass
  Differentiable Approximation, Athalye et al. 2018), the way a non-differentiable ``t`` must be
  attacked;
- ``"none"``: gradients stop at ``t``: gradient attacks see zeros. The number such a row gets
  is not a robustness number (its cells are flagged ``no-gradient-by-design``); keep it to show
  the masking next to the ``"bpda"`` row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench.traits import GradientKind

if TYPE_CHECKING:
    import keras

GRADIENTS = ("exact", "bpda", "none")


def input_transformation(model: keras.Model, transform: Callable[[Any], Any], *,
                         gradient: GradientKind, name: str = "input_transformation"
                         ) -> keras.Model:
    """``model`` behind ``transform`` (TensorFlow operations on a batch of images), with the
    declared ``gradient``. Not serialisable: a defense builds it in ``apply`` around a network
    the trainer gave it (cached), so nothing new is stored."""
    import keras
    import tensorflow as tf

    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")

    class InputTransformation(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            y = transform(x)
            if gradient == "bpda":
                return x + tf.stop_gradient(y - x)
            if gradient == "none":  # zeros, not None: attacks run and see nothing
                return tf.stop_gradient(y) + 0.0 * x
            return y

    inputs = keras.Input(tuple(model.input_shape[1:]))
    return keras.Model(inputs, model(InputTransformation(name=f"{name}_t")(inputs)), name=name)
