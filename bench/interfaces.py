"""The small interface classes that plugins subclass.

Registration hooks return these classes; the host instantiates them with validated
parameters (``cls(params)``). Plugins never validate their own parameters: they declare a
``Params`` model (a frozen pydantic model that rejects unknown keys) and the host does the rest.
"""

from __future__ import annotations

import hashlib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from bench.batches import BatchTransform
from bench.traits import AttackTraits, DefenseTraits, Norm

__all__ = [
    "UNDEFENDED", "Attack", "AttackOutput", "AttackParams", "AttackTraits", "BatchTransform",
    "DataSplit", "Dataset", "Defense", "DefenseTraits", "Model", "Params", "Plugin", "Reporter",
    "TargetSpec", "Tracker", "Trainer",
]

if TYPE_CHECKING:  # keep TensorFlow out of import time for `bench --help`
    import keras


def _members(annotation: Any) -> list[Any]:
    """The members of a union (``int | Literal['a'] | None``), else ``[annotation]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


class Params(BaseModel):
    """Base of every plugin's parameter model: frozen, unknown keys rejected, strict types.

    Strict (pydantic's ``strict=True``): a YAML ``true`` is not the number 1 and ``"0.1"`` is not
    a number; an int is still accepted for a float. NaN and infinity are refused
    (``Field(allow_inf_nan=True)`` allows them for one field). YAML has no tuples, so a list is
    accepted for a ``tuple[...]`` field; a field of another type that strict mode would refuse
    from YAML (an ``Enum``, a ``Path``) takes ``Field(strict=False)``.

    Sweeps: in a suite, a value nested one list deeper than the field's type is a sweep, one
    cell per item (:mod:`bench.grid`). ``eps: [0.1, 0.3]`` sweeps a ``float``; a ``list[int]``
    or ``tuple[int, int]`` field takes a list as its value (``sizes: [1, 2]``, one cell) and
    is swept by a list of lists (``sizes: [[1, 2], [3]]``, two cells).

    Validators receive a context (``ValidationInfo.context``) holding ``suite_dir``, the absolute
    folder of the suite file, when there is one: resolve relative paths against it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _yaml_values(cls, value: Any, info: ValidationInfo) -> Any:
        """A list for a tuple field becomes a tuple; a bool never matches ``Literal[1, 2]``."""
        if info.field_name is None or not isinstance(value, list | bool):
            return value
        members = _members(cls.model_fields[info.field_name].annotation)
        if isinstance(value, list):
            if any(typing.get_origin(m) is tuple or m is tuple for m in members) and not any(
                typing.get_origin(m) is list or m is list for m in members
            ):
                return tuple(value)
            return value
        if any(m is bool or m is Any for m in members):
            return value
        literals = [a for m in members if typing.get_origin(m) is Literal
                    for a in typing.get_args(m)]
        if any(isinstance(a, bool) for a in literals) or not any(
            isinstance(a, int) for a in literals
        ):
            return value  # pydantic judges it: a strict int or float refuses a bool itself
        expected = ", ".join(repr(a) for a in literals)
        raise PydanticCustomError(
            "literal_error", "Input should be one of {expected}, not a boolean",
            {"expected": expected},
        )


_BaseParams = Params


class Plugin:
    """Common base: a name, a version and a typed parameter model."""

    name: ClassVar[str]
    version: ClassVar[str] = "0.0.0"
    description: ClassVar[str] = ""
    Params: ClassVar[type[_BaseParams]] = _BaseParams

    def __init__(self, params: _BaseParams | None = None) -> None:
        self.params = params if params is not None else self.Params()


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DataSplit:
    """A loaded split: images as float32 NHWC inside ``clip_values``, labels as int64 indices."""

    x: np.ndarray
    y: np.ndarray
    num_classes: int
    class_names: tuple[str, ...]
    name: str
    clip_values: tuple[float, float] = (0.0, 1.0)
    _fingerprint: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(f"{self.name}: {self.x.shape[0]} images but {self.y.shape[0]} labels")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x.shape[1:])

    def fingerprint(self) -> str:
        """sha256 over shapes, dtypes and bytes of images and labels (computed once)."""
        if not self._fingerprint:
            h = hashlib.sha256()
            for arr in (self.x, self.y):
                h.update(f"{arr.shape}{arr.dtype}".encode())
                h.update(np.ascontiguousarray(arr).tobytes())
            h.update(repr((self.num_classes, self.clip_values)).encode())
            self._fingerprint.append(h.hexdigest())
        return self._fingerprint[0]


class Dataset(Plugin):
    """A source of labelled images."""

    def load(self, split: str) -> DataSplit:
        """Load one split, e.g. ``train``, ``test[:85%]`` or ``train[:20000]``.

        ``split`` is the suite's ``dataset.train`` / ``dataset.test`` string, already checked
        for its form; :func:`bench.splits.parse_split` parses it, ``check_split`` checks its
        name and ``resolve(n)`` gives the slice of a split of ``n`` samples (see its docstring).
        Raise :class:`bench.errors.DataError` with one clear line when the data is missing or
        corrupt.
        """
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Models and defenses
# --------------------------------------------------------------------------------------------


class Model(Plugin):
    """A trainable classifier architecture. Networks output **logits**."""

    def build(self, input_shape: tuple[int, ...], num_classes: int, seed: int) -> keras.Model:
        """Return a fresh, untrained network mapping images to logits."""
        raise NotImplementedError

    def fit(
        self,
        model: keras.Model,
        x: np.ndarray,
        targets: np.ndarray,
        temperature: float,
        seed: int,
        callbacks: Sequence[Any] = (),
        transform: BatchTransform | None = None,
    ) -> dict[str, list[float]]:
        """Train ``model`` in place on probability ``targets`` (one-hot or soft labels).

        The loss is the cross-entropy between ``targets`` and ``softmax(logits / temperature)``.
        ``transform``, when given, changes every training batch just before its step (adversarial
        training, augmentation): :func:`bench.batches.fit_with_transform` is a training loop that
        applies it; a model that cannot apply one raises :class:`bench.errors.ConfigError`.
        Return the training history (metric name -> per-epoch values).
        """
        raise NotImplementedError

    def pretrained(self) -> bool:
        """True when :meth:`build` returns a network whose weights are already trained (a
        user's file): the host then deploys it as the undefended network without calling
        :meth:`fit` and without caching it. Defenses that train call :meth:`fit` as usual;
        the plugin decides (and documents) what that means for its weights."""
        return False

    def training_key(self) -> dict[str, Any]:
        """Everything about training that determines the weights (part of the cache key)."""
        return self.params.model_dump(mode="json")

    def epochs(self) -> int:
        """Number of epochs one ``fit`` runs (used for progress display)."""
        return int(getattr(self.params, "epochs", 1))


#: the role of the undefended network: hard labels at temperature 1 (its cache key)
UNDEFENDED: dict[str, Any] = {"labels": "hard"}


class Trainer:
    """Handed to a defense by the host: trains (or loads from cache) models of one architecture.

    Implemented by the host (:mod:`bench.training`); defenses only call it.
    """

    #: the training split; a defense may train on other data by setting it (the cache key
    #: follows: it holds the fingerprint of the data each network is trained on)
    train_data: DataSplit

    def undefended(self) -> keras.Model:
        """The undefended network: trained on the hard labels at T = 1 (or loaded from the cache,
        or, for a pretrained model plugin, its network as built). Every defense that starts
        from the undefended network shares this one cached network."""
        raise NotImplementedError

    def train(self, targets: np.ndarray, temperature: float, role: dict[str, Any],
              transform: BatchTransform | None = None) -> keras.Model:
        """Train a fresh network on ``train_data.x`` with ``targets`` (probabilities) at T.

        ``role`` describes where the targets come from (e.g. :data:`UNDEFENDED` or
        ``{"labels": "soft", "teacher": <key>}``) and is part of the cache key, so a second call
        with the same inputs loads the cached weights instead of training. ``transform`` changes
        every training batch (see :class:`bench.batches.BatchTransform`); its class, version
        and fields enter the cache key.
        """
        raise NotImplementedError

    def key_of(self, model: keras.Model) -> str:
        """The cache key under which ``model`` was trained or loaded."""
        raise NotImplementedError

    def predict_logits(self, model: keras.Model, x: np.ndarray) -> np.ndarray:
        """Batched forward pass returning logits as a NumPy array."""
        raise NotImplementedError

    def one_hot(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Defense(Plugin):
    """Produces the deployed (logits) model from an architecture and its training data."""

    def apply(self, trainer: Trainer) -> keras.Model:
        raise NotImplementedError

    def traits(self) -> DefenseTraits:
        """What this defense changes and how attacks get its gradients (stored per cell; flags,
        figures and the undefended twin of a row are found through it)."""
        return DefenseTraits()


# --------------------------------------------------------------------------------------------
# Attacks
# --------------------------------------------------------------------------------------------

TargetSpec = int | Literal["random", "least-likely", "next"] | None


class AttackParams(Params):
    """Parameters every attack has. ``target`` None means untargeted."""

    target: TargetSpec = None


@dataclass(frozen=True)
class AttackOutput:
    """What an attack returns: adversarial examples, one per input, same shape and dtype."""

    x_adv: np.ndarray
    #: optional per-sample flag reported by the attack itself (the host recomputes success)
    success: np.ndarray | None = None
    #: anything the attack wants recorded beside the metrics (e.g. resolved internal settings)
    info: dict[str, Any] = field(default_factory=dict)


class Attack(Plugin):
    """An evasion attack on a logits model."""

    Params: ClassVar[type[_BaseParams]] = AttackParams

    @property
    def targeted(self) -> bool:
        return getattr(self.params, "target", None) is not None

    def bound(self) -> tuple[float | str, float] | None:
        """``(norm, eps)`` when the attack promises ``||x_adv - x||_norm <= eps``, else None.

        ``norm`` is ``"inf"``, ``1`` or ``2``; the host checks every batch against it.
        """
        return None

    def traits(self) -> AttackTraits:
        """Threat model and nature of this attack (stored per cell; flags, figures and robust
        accuracy read it). The default takes norm and eps from :meth:`bound` and assumes an
        iterative, gradient-based attack; override it to declare more."""
        bound = self.bound()
        norm, eps = bound if bound is not None else (None, None)
        # the norm as bound() gave it (math.inf included: check_bound accepts it)
        return AttackTraits(norm=typing.cast(Norm | None, norm),
                            eps=None if eps is None else float(eps), targeted=self.targeted)

    def generate(
        self,
        model: keras.Model,
        x: np.ndarray,
        y: np.ndarray,
        targets: np.ndarray | None,
        clip_values: tuple[float, float],
        num_classes: int,
    ) -> AttackOutput:
        """Craft adversarial examples for ``x`` (true labels ``y``).

        Called once per evaluation batch (``evaluation.batch_size`` samples, the last batch
        possibly smaller), on the same instance for every batch of a cell: a per-call random
        seed repeats its noise in every batch, and ``info`` of later batches overrides earlier
        keys. ``x`` is a read-only copy; every returned batch is checked (shape, finite values,
        ``clip_values``, :meth:`bound`) before the next call.
        ``targets`` holds one target class per sample for targeted attacks (computed by the host
        from ``params.target``), else None.
        """
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Reporters
# --------------------------------------------------------------------------------------------


class Reporter(Plugin):
    """Renders a run's results (:class:`bench.results.model.RunResults`) into a format.

    ``bench report -f NAME [-o FILE] [--opt KEY=VALUE ...]``: each ``--opt`` value is read as
    YAML and the whole set validated against :attr:`Options` (a frozen :class:`Params` model:
    unknown keys refused, strict types); a reporter declaring an ``Options`` field ``metric``
    gets ``--metric`` unless ``--opt metric=...`` is given. The host calls :meth:`write` with
    ``-o FILE``, else prints :meth:`render`'s text. A reporter that writes more than one file,
    or bytes, overrides :meth:`write` (sets ``needs_output`` when it cannot print at all).

    Reporters written for ``render(self, report)`` (one argument) still work: the host passes
    only the results, and the options are ``self.params``.
    """

    extension: ClassVar[str] = "txt"
    #: the reporter's options (``--opt KEY=VALUE``); also ``self.params``
    Options: ClassVar[type[_BaseParams]] = _BaseParams
    #: True when the reporter only writes files (``-o FILE`` required)
    needs_output: ClassVar[bool] = False

    def render(self, results: Any, options: Any) -> str:
        """The report as text (printed, or written to ``-o FILE`` by :meth:`write`)."""
        raise NotImplementedError

    def write(self, results: Any, options: Any, path: Path) -> None:
        """Write the report to ``path`` (``-o FILE``; its folder exists). The default writes
        :meth:`render`'s text as UTF-8; override it to write bytes or several files (e.g.
        figures beside ``path``)."""
        path.write_text(self.render(results, options), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Trackers
# --------------------------------------------------------------------------------------------


class Tracker(Plugin):
    """Follows a run as it happens (experiment trackers, logs, dashboards), configured in the
    suite: ``trackers: [{name: jsonl, params: {path: runs.jsonl}}]``. Instantiated by the
    driver with its validated ``Params``; called in the driver process only, after each store
    write. A method that raises costs one warning, not the run. The events are the frozen
    dataclasses of :mod:`bench.tracking` (the same data the lifecycle hooks receive)."""

    def run_start(self, event: Any) -> None:
        """Before the first cell: a :class:`bench.tracking.RunStarted`."""

    def cell_finished(self, event: Any) -> None:
        """After each cell is stored, ``ok`` or not: a :class:`bench.tracking.CellFinished`."""

    def run_end(self, event: Any) -> None:
        """After the run's statistics are stored (also after an interruption): a
        :class:`bench.tracking.RunEnded`."""
