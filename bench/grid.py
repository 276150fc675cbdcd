"""Grid expansion: sweeps -> validated components -> cells with canonical ids.

Which parameter values are sweeps: :mod:`bench.sweeps` (a list one level deeper than the
parameter's type).
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.errors import ConfigError, PluginError
from bench.interfaces import Params, Plugin
from bench.pluginmanager import Plugins
from bench.suite import ComponentSpec, Suite, TransferRule, describe_validation_error
from bench.sweeps import is_sweep
from bench.traits import work_count


@dataclass(frozen=True)
class Component:
    """One validated plugin instance configuration of a suite."""

    kind: str
    name: str
    cls: type[Plugin]
    params: Params
    id: str
    #: the suite's short name for it (``label:``), shown instead of the id; None: the id
    label: str | None = None

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


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        return "none"
    return str(value)


@dataclass(frozen=True)
class _Section:
    """One suite section with its plugin classes resolved and its sweeps found (not expanded)."""

    kind: str
    section: str
    entries: list[tuple[Any, type[Plugin], list[str]]]  # (spec, class, sweep keys)

    def count(self) -> int:
        return sum(math.prod(len(spec.params[k]) for k in keys)
                   * (2 if getattr(spec, "convergence", False) else 1)
                   for spec, _, keys in self.entries)


def _resolve(kind: str, specs: list[Any], plugins: Plugins, source: str, section: str) -> _Section:
    """Look up every entry's plugin and find its sweeps; nothing is validated or expanded yet."""
    registry = plugins.registry(kind)
    entries = []
    for i, spec in enumerate(specs):
        where = f"{source}: {section}[{i}]"
        try:
            cls = registry.get(spec.name)
        except PluginError as exc:
            raise PluginError(f"{where}.name: {exc}") from None
        sweep_keys = [k for k, v in spec.params.items() if is_sweep(cls.Params, k, v)]
        for key in sweep_keys:
            if not spec.params[key]:
                raise ConfigError(f"{where}.params.{key}: an empty sweep gives no cells")
        entries.append((spec, cls, sweep_keys))
    return _Section(kind, section, entries)


def _context(source: str) -> dict[str, Any]:
    """The validation context plugin parameters get (``ValidationInfo.context``):
    ``suite_dir``, the absolute folder of the suite file (absent when ``source`` is no file)."""
    path = Path(source)
    return {"suite_dir": str(path.resolve().parent)} if path.is_file() else {}


def _expand(sec: _Section, source: str) -> list[tuple[Component, Any]]:
    """Expand the sweeps of every entry of one section and validate each combination."""
    kind, section = sec.kind, sec.section
    expanded: list[tuple[str, type[Plugin], Params, Any, int, list[str]]] = []
    for i, (spec, cls, sweep_keys) in enumerate(sec.entries):
        where = f"{source}: {section}[{i}]"
        choices = [list(enumerate(spec.params[k])) for k in sweep_keys]
        for combo in itertools.product(*choices):
            values = dict(spec.params)
            for key, (_, val) in zip(sweep_keys, combo, strict=True):
                values[key] = val
            try:
                params = cls.Params.model_validate(values, context=_context(source))
            except ValidationError as exc:
                loc = exc.errors()[0]["loc"]
                bad = loc[0] if loc else None
                index = dict(zip(sweep_keys, (j for j, _ in combo), strict=True))
                prefix: tuple[Any, ...] = ("params",)
                if isinstance(bad, str) and bad in index:
                    exc_loc = describe_validation_error(exc, prefix)
                    exc_loc = exc_loc.replace(f"params.{bad}", f"params.{bad}[{index[bad]}]", 1)
                    raise ConfigError(f"{where}.{exc_loc}") from None
                raise ConfigError(f"{where}.{describe_validation_error(exc, prefix)}") from None
            twin = _doubled(spec, cls, params, where, source)
            keys = sweep_keys if twin is None else [*sweep_keys, twin[0]]
            expanded.append((spec.name, cls, params, spec, i, keys))
            if twin is not None:
                expanded.append((spec.name, cls, twin[1], spec, i, keys))
    # ids: the plugin name plus the parameters that vary among this plugin's entries
    dumps: dict[str, list[dict[str, Any]]] = {}
    for name, _, params, *_ in expanded:
        dumps.setdefault(name, []).append(params.model_dump(mode="json"))
    varies = {name: {k for k in ds[0] if any(d.get(k) != ds[0][k] for d in ds)}
              for name, ds in dumps.items()}
    out: list[tuple[Component, Any]] = []
    seen: set[str] = set()
    labels: dict[str, str] = {}
    for name, cls, params, spec, i, sweep_keys in expanded:
        this = params.model_dump(mode="json")
        varying = [k for k in this if k in varies[name]]
        cid = f"{name}[{_assignments(this, varying)}]" if varying else name
        if cid in seen:
            raise ConfigError(f"{source}: {section}: '{cid}' is declared twice")
        seen.add(cid)
        label = spec.label
        if label is not None and sweep_keys:  # an entry's own sweep tells its cells apart
            label = f"{label}[{_assignments(this, sweep_keys)}]"
        if label is not None:
            if label in labels:
                raise ConfigError(f"{source}: {section}[{i}].label: '{label}' labels both "
                                  f"'{labels[label]}' and '{cid}'")
            labels[label] = cid
        out.append((Component(kind, name, cls, params, cid, label), spec))
    return out


def _doubled(spec: Any, cls: type[Plugin], params: Params, where: str,
             source: str) -> tuple[str, Params] | None:
    """The convergence twin an attack entry asks for (``convergence``): its parameter with the
    work doubled, and the parameters with that one doubled; None when none is asked for."""
    asked = getattr(spec, "convergence", False)
    if asked is False:
        return None
    effort = tuple(cls(params).traits().effort_params)  # type: ignore[attr-defined]
    if not effort:
        raise ConfigError(f"{where}.convergence: {spec.name} declares no iteration or restart "
                          "parameter to double (traits().effort_params)")
    key = effort[0] if asked is True else asked
    if key not in effort:
        raise ConfigError(f"{where}.convergence: {key!r} is not one of {spec.name}'s iteration "
                          f"or restart parameters ({', '.join(effort)})")
    value = work_count(raw := getattr(params, key))
    if not value:  # not a count, or 0: nothing to double
        raise ConfigError(f"{where}.convergence: {spec.name}'s {key} is {raw!r}: nothing to "
                          "double")
    try:
        twin = cls.Params.model_validate({**params.model_dump(), key: 2 * value},
                                         context=_context(source))
    except ValidationError as exc:
        raise ConfigError(f"{where}.convergence: doubling {key} to {2 * value}: "
                          f"{describe_validation_error(exc, ('params',))}") from None
    return key, twin


def _assignments(values: dict[str, Any], keys: list[str]) -> str:
    return ",".join(f"{k}={_format_value(values[k])}" for k in keys)


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


def _listing(names: list[str], limit: int = 12) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names)} in all)"


def _check_pattern(where: str, what: str, pat: str, comps: list[Component]) -> None:
    """Raise unless ``pat`` matches the id or the name of one of ``comps``."""
    if any(_matches(c, pat) for c in comps):
        return
    ids = list(dict.fromkeys(c.id for c in comps))
    names = list(dict.fromkeys([*ids, *(c.name for c in comps)]))
    close = difflib.get_close_matches(pat, names, n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ConfigError(f"{where}: {pat!r} matches no {what}.{hint} Available: {_listing(ids)}")


def transfer_id(target_row: str, attack_id: str, source_row: str) -> str:
    """``model=cnn/defense=distillation[temperature=100]/attack=fgsm[eps=0.1]/source=cnn|none``."""
    short = source_row.removeprefix("model=").replace("/defense=", "|", 1)
    return f"{target_row}/attack={attack_id}/source={short}"


def _rows(cells: list[Cell]) -> dict[str, tuple[Component, Component]]:
    rows: dict[str, tuple[Component, Component]] = {}
    for c in cells:
        rows.setdefault(c.row, (c.model, c.defense))
    return rows


def _row_matches(row: tuple[Component, Component], pattern: Mapping[Any, str]) -> bool:
    comps = {"model": row[0], "defense": row[1]}
    return all(_matches(comps[k], p) for k, p in pattern.items())


def _transfer_pairs(
    cells: list[Cell], rule: TransferRule, rows: dict[str, tuple[Component, Component]]
) -> Iterator[tuple[Cell, str]]:
    """(white-box cell, target row) pairs of one transfer rule."""
    targets = [r for r, comps in rows.items() if _row_matches(comps, rule.target)]
    sources = {r for r, comps in rows.items() if _row_matches(comps, rule.source)}
    for c in cells:
        if c.row in sources and _matches(c.attack, rule.attack):
            for row in targets:
                if row != c.row:
                    yield c, row


def transfer_plan(cells: list[Cell], suite: Suite) -> dict[str, list[str]]:
    """White-box cell id -> the row ids its adversarial examples are also evaluated on."""
    rows = _rows(cells)
    plan: dict[str, list[str]] = {}
    for rule in suite.transfer:
        for c, row in _transfer_pairs(cells, rule, rows):
            targets = plan.setdefault(c.id, [])
            if row not in targets:
                targets.append(row)
    return plan


def _check_transfer(cells: list[Cell], suite: Suite, source: str) -> None:
    """Every transfer pattern matches something, and the transfer cells stay under the cap."""
    rows = _rows(cells)
    models = list({c.model.id: c.model for c in cells}.values())
    defenses = list({c.defense.id: c.defense for c in cells}.values())
    attacks = list({c.attack.id: c.attack for c in cells}.values())
    pool = {"model": models, "defense": defenses}
    total: set[tuple[str, str]] = set()
    cap = suite.evaluation.max_cells
    for i, rule in enumerate(suite.transfer):
        where = f"{source}: transfer[{i}]"
        for part in ("source", "target"):
            for k, pat in getattr(rule, part).items():
                _check_pattern(f"{where}.{part}.{k}", f"{k} of the grid", pat, pool[k])
        _check_pattern(f"{where}.attack", "attack of the grid", rule.attack, attacks)
        found = False
        for c, row in _transfer_pairs(cells, rule, rows):
            found = True
            total.add((c.id, row))
            if len(total) > cap:
                raise ConfigError(
                    f"{source}: transfer: more than {cap} transfer cells, the limit of "
                    f"evaluation.max_cells; narrow the transfer rules or raise the limit "
                    f"(--set evaluation.max_cells=N)"
                )
        if not found:
            src = [r for r, comps in rows.items() if _row_matches(comps, rule.source)]
            dst = [r for r, comps in rows.items() if _row_matches(comps, rule.target)]
            raise ConfigError(
                f"{where}: matches no cell (source rows: {_listing(src, 4) or 'none'}; "
                f"target rows: {_listing(dst, 4) or 'none'}; attack {rule.attack!r})"
            )


def undefended_defense(plugins: Plugins, source: str) -> str:
    """The name of the one registered defense whose ``traits().kind`` is ``"none"`` (taken
    with its default parameters): the default of a suite that lists no defenses."""
    found = []
    for name, cls in plugins.registry("defense").items():
        try:
            kind = cls(cls.Params()).traits().kind
        except Exception:  # noqa: BLE001 - needs parameters, or traits() fails: not the default
            continue
        if kind == "none":
            found.append(name)
    if len(found) != 1:
        which = f"several do ({', '.join(found)})" if found else "none does"
        raise ConfigError(
            f"{source}: defenses: not given, so the default is the registered defense whose "
            f"traits().kind is 'none', but {which}; list the defenses in the suite")
    return found[0]


def with_default_defenses(suite: Suite, plugins: Plugins, source: str) -> Suite:
    """``suite`` with its omitted ``defenses`` filled in (:func:`undefended_defense`)."""
    if suite.defenses is not None:
        return suite
    spec = ComponentSpec(name=undefended_defense(plugins, source))
    return suite.model_copy(update={"defenses": [spec]})


def expand_grid(suite: Suite, plugins: Plugins, source: str) -> list[Cell]:
    """Every cell of the suite, in declaration order, excluded ones removed.

    The grid is counted from the sweep lengths before anything is expanded or validated, and
    refused when it has more than ``evaluation.max_cells`` cells. Every ``exclude`` and
    ``transfer`` pattern must match something.
    """
    suite = with_default_defenses(suite, plugins, source)
    assert suite.defenses is not None
    sections = [
        _resolve("model", suite.models, plugins, source, "models"),
        _resolve("defense", suite.defenses, plugins, source, "defenses"),
        _resolve("attack", suite.attacks, plugins, source, "attacks"),
    ]
    counts = [sec.count() for sec in sections]
    total = math.prod(counts)
    cap = suite.evaluation.max_cells
    if total > cap:
        raise ConfigError(
            f"{source}: the grid has {total} cells ({counts[0]} models x {counts[1]} defenses "
            f"x {counts[2]} attacks, before exclude), more than evaluation.max_cells = {cap}; "
            f"narrow the sweeps or raise the limit (--set evaluation.max_cells={total})"
        )
    models = [c for c, _ in _expand(sections[0], source)]
    defenses = [c for c, _ in _expand(sections[1], source)]
    attacks = _expand(sections[2], source)
    pool = {"model": models, "defense": defenses, "attack": [a for a, _ in attacks]}
    for i, rule in enumerate(suite.exclude):
        for k, pat in rule.items():
            _check_pattern(f"{source}: exclude[{i}].{k}", f"{k} of the grid", pat, pool[k])
    sample_cap = suite.evaluation.samples
    cells = [
        Cell(m, d, a, min(spec.samples or sample_cap, sample_cap))
        for m, d, (a, spec) in itertools.product(models, defenses, attacks)
    ]
    cells = [c for c in cells if not _excluded(c, suite.exclude)]
    if not cells:
        raise ConfigError(f"{source}: exclude removes every cell")
    _check_transfer(cells, suite, source)
    return cells
