"""Grid expansion: sweeps -> validated components -> cells with canonical ids."""

from __future__ import annotations

import itertools
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bench.errors import ConfigError, PluginError
from bench.interfaces import Params, Plugin
from bench.pluginmanager import Plugins
from bench.suite import Suite, describe_validation_error


@dataclass(frozen=True)
class Component:
    """One validated plugin instance configuration of a suite."""

    kind: str
    name: str
    cls: type[Plugin]
    params: Params
    id: str

    def instantiate(self) -> Any:
        return self.cls(self.params)

    def resolved_params(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")


@dataclass(frozen=True)
class Cell:
    model: Component
    defense: Component
    attack: Component
    samples: int

    @property
    def id(self) -> str:
        return f"model={self.model.id}/defense={self.defense.id}/attack={self.attack.id}"

    @property
    def row(self) -> str:
        """The (model, defense) part: one trained, defended network."""
        return f"model={self.model.id}/defense={self.defense.id}"


def _accepts_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_accepts_list(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _accepts_list(typing.get_args(annotation)[0])
    return False


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        return "none"
    return str(value)


def _expand(
    kind: str, specs: list[Any], plugins: Plugins, source: str, section: str
) -> list[tuple[Component, Any]]:
    """Expand sweeps of every entry of one suite section and validate each combination."""
    registry = plugins.registry(kind)
    expanded: list[tuple[str, type[Plugin], Params, dict[str, Any]]] = []
    for i, spec in enumerate(specs):
        where = f"{source}: {section}[{i}]"
        try:
            cls = registry.get(spec.name)
        except PluginError as exc:
            raise PluginError(f"{where}.name: {exc}") from None
        fields = cls.Params.model_fields
        sweep_keys = [
            k for k, v in spec.params.items()
            if isinstance(v, list) and not (k in fields and _accepts_list(fields[k].annotation))
        ]
        for key in sweep_keys:
            if not spec.params[key]:
                raise ConfigError(f"{where}.params.{key}: an empty sweep gives no cells")
        choices = [list(enumerate(spec.params[k])) for k in sweep_keys]
        for combo in itertools.product(*choices):
            values = dict(spec.params)
            for key, (_, val) in zip(sweep_keys, combo, strict=True):
                values[key] = val
            try:
                params = cls.Params.model_validate(values)
            except ValidationError as exc:
                loc = exc.errors()[0]["loc"]
                key = loc[0] if loc else None
                index = dict(zip(sweep_keys, (j for j, _ in combo), strict=True))
                prefix: tuple[Any, ...] = ("params",)
                if key in index:
                    exc_loc = describe_validation_error(exc, prefix)
                    exc_loc = exc_loc.replace(f"params.{key}", f"params.{key}[{index[key]}]", 1)
                    raise ConfigError(f"{where}.{exc_loc}") from None
                raise ConfigError(f"{where}.{describe_validation_error(exc, prefix)}") from None
            expanded.append((spec.name, cls, params, spec))
    # ids: the plugin name plus the parameters that vary among this plugin's entries
    out: list[tuple[Component, Any]] = []
    seen: dict[str, int] = {}
    for name, cls, params, spec in expanded:
        dumps = [p.model_dump(mode="json") for n, _, p, _ in expanded if n == name]
        this = params.model_dump(mode="json")
        varying = [k for k in this if any(d.get(k) != this[k] for d in dumps)]
        label = ",".join(f"{k}={_format_value(this[k])}" for k in varying)
        cid = f"{name}[{label}]" if varying else name
        if cid in seen:
            raise ConfigError(f"{source}: {section}: '{cid}' is declared twice")
        seen[cid] = 1
        out.append((Component(kind, name, cls, params, cid), spec))
    return out


def _pattern(pat: str) -> re.Pattern[str]:
    """A glob where only ``*`` and ``?`` are wildcards (brackets in ids are literal)."""
    return re.compile(re.escape(pat).replace(r"\*", ".*").replace(r"\?", ".") + r"\Z")


def _excluded(cell: Cell, rules: Sequence[Mapping[Any, str]]) -> bool:
    comps = {"model": cell.model, "defense": cell.defense, "attack": cell.attack}
    for rule in rules:
        if all(
            _pattern(pat).match(comps[k].id) or _pattern(pat).match(comps[k].name)
            for k, pat in rule.items()
        ):
            return True
    return False


def _matches(comp: Component, pat: str) -> bool:
    return bool(_pattern(pat).match(comp.id) or _pattern(pat).match(comp.name))


def transfer_id(target_row: str, attack_id: str, source_row: str) -> str:
    """``model=cnn/defense=distillation[temperature=100]/attack=fgsm[eps=0.1]/source=cnn|none``."""
    short = source_row.removeprefix("model=").replace("/defense=", "|", 1)
    return f"{target_row}/attack={attack_id}/source={short}"


def transfer_plan(cells: list[Cell], suite: Suite) -> dict[str, list[str]]:
    """White-box cell id -> the row ids its adversarial examples are also evaluated on."""
    rows: dict[str, tuple[Component, Component]] = {}
    for c in cells:
        rows.setdefault(c.row, (c.model, c.defense))

    def row_matches(row: str, pattern: Mapping[Any, str]) -> bool:
        model, defense = rows[row]
        comps = {"model": model, "defense": defense}
        return all(_matches(comps[k], p) for k, p in pattern.items())

    plan: dict[str, list[str]] = {}
    for c in cells:
        for rule in suite.transfer:
            if not (row_matches(c.row, rule.source) and _matches(c.attack, rule.attack)):
                continue
            for row in rows:
                if row != c.row and row_matches(row, rule.target):
                    targets = plan.setdefault(c.id, [])
                    if row not in targets:
                        targets.append(row)
    return plan


def expand_grid(suite: Suite, plugins: Plugins, source: str) -> list[Cell]:
    """Every cell of the suite, in declaration order, excluded ones removed."""
    models = [c for c, _ in _expand("model", suite.models, plugins, source, "models")]
    defenses = [c for c, _ in _expand("defense", suite.defenses, plugins, source, "defenses")]
    attacks = _expand("attack", suite.attacks, plugins, source, "attacks")
    cap = suite.evaluation.samples
    cells = [
        Cell(m, d, a, min(spec.samples or cap, cap))
        for m, d, (a, spec) in itertools.product(models, defenses, attacks)
    ]
    cells = [c for c in cells if not _excluded(c, suite.exclude)]
    if not cells:
        raise ConfigError(f"{source}: exclude removes every cell")
    return cells
