"""Checks on a user's Keras network (a file, or what a factory returned) before artbench uses it.

- One input and one output; the input shape must match the dataset's images (``None`` matches
  any size) and the output must have one unit per class.
- A network whose last layer applies a softmax (a ``Softmax`` layer, an ``Activation("softmax")``
  layer, or any layer built with ``activation="softmax"``, e.g. ``Dense(10, activation=
  "softmax")``) outputs probabilities; artbench needs logits. ``softmax: unwrap`` rebuilds the
  graph without that activation (the last layer cloned with a linear activation and the same
  weights, or the softmax layer dropped); ``softmax: refuse`` stops with a message. A softmax
  hidden inside another layer (a ``Lambda``, a subclassed ``call``) is not detected.
- The data range: a first layer that scales inputs by 1/255 or less (``Rescaling(1/255)``), or a
  ``Normalization`` whose mean is above 2, expects pixels in 0..255, while artbench's datasets
  hold images in [0, 1] (``DataSplit.clip_values``' default; ``build`` is not told the range):
  one warning line, once per network and process.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

import numpy as np

from bench.errors import ConfigError

#: networks warned about already (one warning per network and process)
_WARNED: set[str] = set()

SOFTMAX_WHY = ("artbench attacks logits (ART's Carlini-Wagner and other margin attacks "
               "misbehave silently on probabilities)")


def _is_softmax(fn: Any) -> bool:
    return getattr(fn, "__name__", None) == "softmax"


def softmax_layer(model: Any) -> Any | None:
    """The last layer if it applies a softmax, else None."""
    import keras

    if not model.layers:
        return None
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax) or _is_softmax(getattr(last, "activation", None)):
        return last
    return None


def unwrap_softmax(model: Any, who: str) -> Any:
    """``model`` without its final softmax: a new functional model sharing every other layer."""
    import keras

    last = softmax_layer(model)
    if last is None:
        return model
    try:
        inner = last.input
    except (AttributeError, ValueError) as exc:  # a layer called more than once, no graph
        raise ConfigError(f"{who}: the network ends in a softmax (layer '{last.name}') that "
                          f"cannot be removed ({exc}); save a network that outputs logits"
                          ) from None
    if isinstance(last, keras.layers.Softmax | keras.layers.Activation):
        outputs = inner
    else:
        config = {**last.get_config(), "activation": "linear"}
        linear = type(last).from_config(config)
        outputs = linear(inner)
        linear.set_weights(last.get_weights())
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, outputs, name=f"{model.name}_logits")


def check_network(model: Any, input_shape: tuple[int, ...], num_classes: int, who: str,
                  softmax: Literal["unwrap", "refuse"]) -> Any:
    """``model`` checked against the data (see the module's docstring), softmax unwrapped."""
    import keras

    if not isinstance(model, keras.Model):
        raise ConfigError(f"{who}: got {type(model).__name__}, not a keras.Model")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConfigError(f"{who}: the network has {len(model.inputs)} inputs and "
                          f"{len(model.outputs)} outputs; artbench needs one of each")
    takes = tuple(model.inputs[0].shape[1:])
    if len(takes) != len(input_shape) or any(
            d is not None and int(d) != want for d, want in zip(takes, input_shape, strict=False)):
        shown = "(" + ", ".join("None" if d is None else str(int(d)) for d in takes) + ")"
        raise ConfigError(f"{who}: the network takes inputs of shape {shown}, the dataset's "
                          f"images are {input_shape}")
    out = tuple(model.outputs[0].shape[1:])
    if len(out) != 1 or out[0] != num_classes:
        raise ConfigError(f"{who}: the network outputs shape {out}, the dataset has "
                          f"{num_classes} classes (artbench needs one logit per class)")
    last = softmax_layer(model)
    if last is not None:
        if softmax == "refuse":
            raise ConfigError(f"{who}: the network ends in a softmax (layer '{last.name}') and "
                              f"outputs probabilities; {SOFTMAX_WHY}: save it without the "
                              "softmax or set softmax: unwrap")
        model = unwrap_softmax(model, who)
    _warn_range(model, who)
    return model


def input_scale(model: Any) -> str | None:
    """Why the network's first layer looks like it expects pixels in 0..255, or None."""
    import keras

    layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    if not layers:
        return None
    first = layers[0]
    if isinstance(first, keras.layers.Rescaling):
        scale = np.asarray(first.scale, dtype=np.float64)
        if scale.size and float(np.max(np.abs(scale))) <= 1 / 255 + 1e-9:
            return f"its first layer '{first.name}' rescales inputs by {float(scale.max()):.4g}"
    if isinstance(first, keras.layers.Normalization):
        mean = getattr(first, "mean", None)
        if mean is not None and float(np.max(np.asarray(mean))) > 2:
            return (f"its first layer '{first.name}' normalises with a mean of "
                    f"{float(np.max(np.asarray(mean))):.4g}")
    return None


def _warn_range(model: Any, who: str) -> None:
    reason = input_scale(model)
    if reason is None or f"{who}/{model.name}" in _WARNED:
        return
    _WARNED.add(f"{who}/{model.name}")
    sys.stderr.write(f"warning: {who}: {reason}, as for pixels in 0..255, but the data are in "
                     "[0, 1]: check the network's preprocessing\n")
