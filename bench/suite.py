"""Suite files: YAML loaded safely, validated once into frozen typed models.

Plugin parameters are validated against each plugin's own ``Params`` model during grid
expansion (:mod:`bench.grid`), so that every error names the file and the field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import ConfigError


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentSpec(_Frozen):
    """A plugin named in a suite, with its parameters (a list value is a sweep)."""

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class AttackSpec(ComponentSpec):
    #: evaluation samples for this attack (slow attacks get fewer); default evaluation.samples
    samples: int | None = Field(default=None, gt=0)


class DatasetSpec(ComponentSpec):
    train: str = "train"
    test: str = "test"


class Evaluation(_Frozen):
    samples: int = Field(default=1000, gt=0)
    batch_size: int = Field(default=128, gt=0)
    seed: int = Field(default=0, ge=0)
    #: samples per white-box cell whose clean and adversarial images the store keeps (the
    #: report's example grids); 0 keeps none
    examples: int = Field(default=8, ge=0, le=64)


ExcludeRule = dict[Literal["model", "defense", "attack"], str]
RowPattern = dict[Literal["model", "defense"], str]


class TransferRule(_Frozen):
    """Evaluate the examples crafted on ``source`` rows on every ``target`` row too."""

    source: RowPattern = Field(min_length=1)
    #: rows to evaluate on (default: every other row)
    target: RowPattern = Field(default_factory=dict)
    #: attacks whose examples transfer (pattern on the attack id or name)
    attack: str = "*"


class Suite(_Frozen):
    name: str = Field(min_length=1)
    description: str = ""
    dataset: DatasetSpec
    models: list[ComponentSpec] = Field(min_length=1)
    defenses: list[ComponentSpec] = Field(
        default_factory=lambda: [ComponentSpec(name="none")], min_length=1
    )
    attacks: list[AttackSpec] = Field(min_length=1)
    exclude: list[ExcludeRule] = Field(default_factory=list)
    transfer: list[TransferRule] = Field(default_factory=list)
    evaluation: Evaluation = Field(default_factory=Evaluation)
    #: seed of model initialisation and training
    seed: int = Field(default=0, ge=0)


def format_loc(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """('attacks', 1, 'params', 'eps') -> 'attacks[1].params.eps'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def describe_validation_error(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> str:
    """First error of a pydantic ValidationError as 'path: message, got value'."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = format_loc(tuple(prefix) + tuple(first["loc"]))
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    elif first["type"] == "missing":
        msg = "field required"
    elif "input" in first and first["type"] not in {"model_type", "dict_type"}:
        msg = f"{msg}, got {first['input']!r}"
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(
        errors
    ) > 1 else ""
    return f"{path}: {msg}{more}"


def read_suite_file(path: str | Path) -> dict[str, Any]:
    """Read a suite file into a mapping (safe YAML loader); one-line errors."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such suite file") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read suite file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}:{where}: invalid YAML: {problem}") from None
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
