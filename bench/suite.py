"""Suite files: YAML loaded safely, validated once into frozen typed models.

Plugin parameters are validated against each plugin's own ``Params`` model during grid
expansion (:mod:`bench.grid`), so that every error names the file and the field path.
"""

from __future__ import annotations

import os
import re
import stat
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
)
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType

from bench.errors import ConfigError
from bench.yamlsafe import load_yaml, one_line, short_repr

#: a suite file is small text; anything larger is refused unread
MAX_SUITE_BYTES = 1 << 20
#: seeds go to ``np.random.seed`` (via ``keras.utils.set_random_seed``), which takes 32 bits
SEED_LIMIT = 2**32
#: default of ``evaluation.max_cells``
MAX_CELLS = 5000


class _Frozen(BaseModel):
    # strict: YAML ``true`` is not 1 and ``"0.1"`` is not a number (ints still count as floats)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


#: longest ``label`` of a component
MAX_LABEL = 40


class ComponentSpec(_Frozen):
    """A plugin named in a suite, with its parameters (a list value is a sweep) and an optional
    short ``label`` that the terminal and reports show instead of the full id (the id stays
    the key: patterns, ``--set``, the store); an entry with a sweep gets ``label[k=v]``."""

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    @field_validator("label")
    @classmethod
    def _label_text(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or len(value) > MAX_LABEL
                                  or not value.isprintable() or value != value.strip()):
            raise PydanticCustomError(
                "label", f"a label is 1 to {MAX_LABEL} printable characters on one line, "
                "without leading or trailing spaces")
        return value

    @model_serializer(mode="wrap")
    def _omit_unset_options(self, handler: Any) -> dict[str, Any]:
        """No ``label: null`` or ``convergence: false`` in dumps: stored suites written before
        these options existed keep their configuration (and ``--resume`` still finds them)."""
        out: dict[str, Any] = handler(self)
        for key, unset in (("label", None), ("convergence", False)):
            if key in out and out[key] is unset:
                del out[key]
        return out


class AttackSpec(ComponentSpec):
    #: evaluation samples for this attack (slow attacks get fewer); default evaluation.samples
    samples: int | None = Field(default=None, gt=0)
    #: the convergence check (Carlini et al. 2019; flag ``not-converged``): also run every cell
    #: of this entry with twice the work, doubling the attack's first declared effort parameter
    #: (its iterations; ``traits().effort_params``) or the one named here. Doubles the cost.
    convergence: bool | str = False


class DatasetSpec(ComponentSpec):
    train: str = "train"
    test: str = "test"

    @field_validator("train", "test")
    @classmethod
    def _split_syntax(cls, value: str) -> str:
        """The split string's form (``test[:85%]``); the dataset checks the split's name."""
        from bench.splits import parse_split

        try:
            parse_split(value)
        except ConfigError as exc:
            raise PydanticCustomError("split_syntax", "{message}", {"message": str(exc)}) from None
        return value


class Evaluation(_Frozen):
    samples: int = Field(default=1000, gt=0)
    batch_size: int = Field(default=128, gt=0)
    seed: int = Field(default=0, ge=0, lt=SEED_LIMIT)
    #: samples per white-box cell whose clean and adversarial images the store keeps (the
    #: report's example grids); 0 keeps none
    examples: int = Field(default=8, ge=0, le=64)
    #: most cells (before ``exclude``) a suite may declare; the grid is counted before expansion
    max_cells: int = Field(default=MAX_CELLS, gt=0)
    #: seconds a cell may take (its attack and evaluation, transfers included) before it is
    #: stopped and stored as ``timeout``; enforced by isolating executors (``--executor
    #: process``); None: no limit. ``bench run --cell-timeout`` overrides it
    cell_timeout: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)


ExcludeRule = Annotated[dict[Literal["model", "defense", "attack"], str], Field(min_length=1)]
RowPattern = dict[Literal["model", "defense"], str]


class TransferRule(_Frozen):
    """Evaluate the examples crafted on ``source`` rows on every ``target`` row too."""

    source: RowPattern = Field(min_length=1)
    #: rows to evaluate on (default: every other row)
    target: RowPattern = Field(default_factory=dict)
    #: attacks whose examples transfer (pattern on the attack id or name)
    attack: str = "*"


class ThreatModelSpec(_Frozen):
    """A norm and a budget under which robust accuracy is reported (``{norm: inf, eps: 0.1}``;
    ``eps`` in the data's units, for ``norm: 0`` a number of changed values)."""

    norm: Literal["inf", 0, 1, 2]
    eps: float = Field(gt=0, allow_inf_nan=False)


class Suite(_Frozen):
    name: str = Field(min_length=1)
    description: str = ""
    dataset: DatasetSpec
    models: list[ComponentSpec] = Field(min_length=1)
    #: None (omitted): the one registered defense whose ``traits().kind`` is ``"none"``,
    #: filled in when the grid is planned (:func:`bench.grid.with_default_defenses`)
    defenses: list[ComponentSpec] | None = Field(default=None, min_length=1)
    attacks: list[AttackSpec] = Field(min_length=1)
    exclude: list[ExcludeRule] = Field(default_factory=list)
    transfer: list[TransferRule] = Field(default_factory=list)
    evaluation: Evaluation = Field(default_factory=Evaluation)
    #: robust accuracy is reported per threat model (default: one per distinct bound of the
    #: bounded attacks); reporting only, so a run can be resumed with others
    threat_models: list[ThreatModelSpec] = Field(default_factory=list)
    #: tracker plugins that follow the run (``{name: jsonl, params: {path: runs.jsonl}}``);
    #: observation only, so a run can be resumed with others
    trackers: list[ComponentSpec] = Field(default_factory=list)
    #: seed of model initialisation and training
    seed: int = Field(default=0, ge=0, lt=SEED_LIMIT)


def format_loc(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """('attacks', 1, 'params', 'eps') -> 'attacks[1].params.eps'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _union_group(errors: list[Any]) -> list[Any]:
    """The first error and the errors of the other members of the same union, if any.

    pydantic reports a value that fits no member of ``int | Literal['a'] | None`` once per
    member, each with the member's tag appended to the location.
    """
    first = errors[0]
    loc = tuple(first["loc"])
    if not loc:
        return [first]
    group = [e for e in errors
             if len(e["loc"]) == len(loc) and tuple(e["loc"])[:-1] == loc[:-1]
             and _is_member_tag(e["loc"][-1])
             and short_repr(e.get("input")) == short_repr(first.get("input"))]
    return group if len(group) > 1 and group[0] is first else [first]


def _is_member_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in {"int", "float", "str", "bool"}
        or part.startswith(("literal[", "list[", "dict[", "tuple[", "constrained-"))
    )


#: pydantic's own error types: their messages never quote the input
_PYDANTIC_TYPES = frozenset(typing.get_args(ErrorType)) - {"value_error", "assertion_error"}


def _custom(error_type: str) -> bool:
    """A message written by a plugin (a validator's ``ValueError`` or ``assert``, or a
    ``PydanticCustomError`` of its own type), which may quote the input itself."""
    return error_type not in _PYDANTIC_TYPES


def _says_value(msg: str, value: Any) -> bool:
    """True when ``msg`` quotes ``value`` (its repr, or str for a number) as a whole token."""
    forms = {short_repr(value)}
    if isinstance(value, int | float) and not isinstance(value, bool):
        forms.add(str(value))
    return any(re.search(rf"(?<![\w.]){re.escape(f)}(?![\w.])", msg) for f in forms)


def describe_validation_error(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> str:
    """First error of a pydantic ValidationError as 'path: message, got value' (one line).

    ``, got value`` is not appended to a plugin's own message (a validator's ``ValueError``)
    that quotes the value already: ``must be an http(s) URL, got 'ftp://x'``.
    """
    errors = exc.errors(include_url=False)
    group = _union_group(errors)
    first = group[0]
    loc = tuple(first["loc"])[:-1] if len(group) > 1 else tuple(first["loc"])
    loc = tuple(part for part in loc if not (_is_member_tag(part) and "[" in str(part)))
    path = format_loc(tuple(prefix) + loc)
    msg = first["msg"]
    if len(group) > 1:
        msg = "Input should be " + " or ".join(
            e["msg"].removeprefix("Input should be ") for e in group)
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    elif first["type"] == "missing":
        msg = "field required"
    elif "input" in first and first["type"] not in {"model_type", "dict_type", "split_syntax"} \
            and not (_custom(first["type"]) and _says_value(msg, first["input"])):
        msg = f"{msg}, got {short_repr(first['input'])}"
    rest = len(errors) - len(group)
    more = f" (and {rest} more error{'s' if rest > 1 else ''})" if rest else ""
    return one_line(f"{path}: {msg}{more}")


def read_suite_file(path: str | Path) -> dict[str, Any]:
    """Read a suite file into a mapping (safe, bounded YAML, see :mod:`bench.yamlsafe`)."""
    p = Path(path)
    try:
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"{p}: is a directory, not a suite file")
        if not stat.S_ISREG(st.st_mode):  # /dev/zero, a FIFO (opening it would block), ...
            raise ConfigError(f"{p}: not a regular file")
        if st.st_size > MAX_SUITE_BYTES:
            raise ConfigError(f"{p}: {st.st_size} bytes, more than a suite file may hold (1 MiB)")
        with open(p, "rb") as fh:
            raw = fh.read(MAX_SUITE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such suite file") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read suite file ({exc.strerror or exc})") from None
    if len(raw) > MAX_SUITE_BYTES:  # grew while being read
        raise ConfigError(f"{p}: more than a suite file may hold (1 MiB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{p}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            f"(line {line}) cannot be decoded"
        ) from None
    data = load_yaml(text, str(p))
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a suite must be a mapping, got {type(data).__name__}")
    return data


def validate_suite(data: dict[str, Any], source: str) -> Suite:
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from None


def load_suite(
    path: str | Path, overrides: list[str] | None = None
) -> tuple[Suite, dict[str, Any]]:
    """Load, override (``--set``) and validate a suite. Returns the model and the raw mapping."""
    from bench.overrides import apply_overrides

    data = read_suite_file(path)
    data = apply_overrides(data, overrides or [])
    return validate_suite(data, str(path)), data


#: ``evaluation`` fields that limit how a run executes, not what it computes: runs that differ
#: only in them are the same experiment (``--resume``, ``bench compare``, ``bench merge``)
EXECUTION_FIELDS = ("cell_timeout", "max_cells")
#: top-level fields that only change how results are reported
REPORTING_FIELDS = ("threat_models", "trackers")


def result_config(suite: dict[str, Any]) -> dict[str, Any]:
    """A resolved suite (as stored, JSON) without its execution-only and reporting fields."""
    out = {k: v for k, v in suite.items() if k not in REPORTING_FIELDS}
    if "evaluation" in suite:
        out["evaluation"] = {k: v for k, v in suite["evaluation"].items()
                             if k not in EXECUTION_FIELDS}
    return out


def differing_fields(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The top-level fields in which two resolved suites (as stored, JSON) differ, in order
    (execution-only fields aside)."""
    a, b = result_config(a), result_config(b)
    return [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]


def default_suite_path() -> Path:
    """The offline quick-start suite: the checkout's ``suites/quickstart.yaml``, or the copy an
    installed wheel carries inside the package."""
    checkout = Path(__file__).resolve().parent.parent / "suites" / "quickstart.yaml"
    packaged = Path(__file__).resolve().parent / "suites" / "quickstart.yaml"
    return checkout if checkout.is_file() else packaged
