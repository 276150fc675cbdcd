"""``python``: a network built by a function of the user's, trained like the reference CNN.

``params: {factory: "package.module:function", kwargs: {...}}``. The function is called as
``function(input_shape, num_classes, seed, **kwargs)``: ``input_shape`` is the dataset's image
shape as a tuple of ints (``(28, 28, 1)``), ``num_classes`` an int, ``seed`` the suite's seed
(``keras.utils.set_random_seed(seed)`` has been called just before). It returns an uncompiled
``keras.Model`` mapping images to one output per class (logits; a final softmax is removed or
refused, see :mod:`bench_builtin.models.network`). The module must be importable (installed,
or on ``PYTHONPATH``); it is imported when the suite is validated, so a wrong ``factory`` stops
before anything runs.

Training: ``epochs``, ``optimizer``, ``learning_rate``, ``momentum``, ``batch_size``
(Keras' ``fit``, or :func:`bench.batches.fit_with_transform` when a defense passes a transform).
The cache key holds the factory's module and name, its kwargs, the training parameters and the
sha256 of the module's source file: editing that file trains again (other modules it imports
are not followed; bump a kwarg or the seed after editing those).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any, Literal, cast

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from bench.errors import ConfigError
from bench_builtin.models.fitting import FitsLogits, TrainingParams
from bench_builtin.models.network import check_network

_NAME = r"[A-Za-z_]\w*"
FACTORY = re.compile(rf"^{_NAME}(\.{_NAME})*:{_NAME}(\.{_NAME})*$")


def _fail(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message.replace("{", "{{").replace("}", "}}"))


def resolve_factory(spec: str) -> Callable[..., Any]:
    """The callable named by ``module:qualname``; a :class:`PydanticCustomError` (one line)
    when it cannot be had."""
    if not FACTORY.match(spec):
        raise _fail("factory_syntax", "expected 'package.module:function'")
    module_name, qualname = spec.split(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise _fail("factory_import", f"no module named '{exc.name}' (is it installed or "
                        "on PYTHONPATH?)") from None
        raise _fail("factory_import", f"importing '{module_name}' failed: "
                    f"ModuleNotFoundError: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
        text = (str(exc).strip().splitlines() or [""])[0]
        raise _fail("factory_import", f"importing '{module_name}' failed: "
                    f"{type(exc).__name__}: {text}") from None
    where = module_name
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise _fail("factory_attribute", f"'{where}' has no attribute '{part}'")
        obj, where = getattr(obj, part), f"{where}.{part}"
    if not callable(obj):
        raise _fail("factory_callable", f"'{spec}' is not callable ({type(obj).__name__})")
    return cast(Callable[..., Any], obj)


class PythonModelParams(TrainingParams):
    factory: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    softmax: Literal["unwrap", "refuse"] = "unwrap"

    @field_validator("factory")
    @classmethod
    def _importable(cls, value: str) -> str:
        resolve_factory(value)
        return value


def source_sha256(spec: str) -> str | None:
    """sha256 of the source file of the factory's module (None when it has none)."""
    module = importlib.import_module(spec.split(":")[0])
    try:
        path = inspect.getsourcefile(module)
    except TypeError:  # a built-in or extension module
        return None
    if path is None:
        return None
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


class PythonModel(FitsLogits):
    name = "python"
    version = "1.0.0"
    description = "A network from a Python function (module:function), trained like cnn"
    Params = PythonModelParams

    def training_key(self) -> dict[str, Any]:
        p = cast(PythonModelParams, self.params)
        return {**p.model_dump(mode="json"), "source_sha256": source_sha256(p.factory)}

    def build(self, input_shape: tuple[int, ...], num_classes: int, seed: int) -> Any:
        import keras

        p = cast(PythonModelParams, self.params)
        who = f"model python ({p.factory})"
        try:
            factory = resolve_factory(p.factory)
        except PydanticCustomError as exc:
            raise ConfigError(f"{who}: {exc.message()}") from None
        keras.utils.set_random_seed(seed)
        network = factory(tuple(int(d) for d in input_shape), int(num_classes), int(seed),
                          **p.kwargs)
        if not isinstance(network, keras.Model):
            raise ConfigError(f"{who}: returned {type(network).__name__}, not a keras.Model")
        return check_network(network, input_shape, num_classes, who, p.softmax)

