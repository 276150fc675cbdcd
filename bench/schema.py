"""``bench schema``: the JSON schema of suites, with every loaded plugin's parameters.

Each entry of ``models``, ``defenses`` and ``attacks`` (and the ``dataset``) is a union
discriminated on ``name``: one ``oneOf`` branch per registered plugin, ``name: {const: ...}``
beside that plugin's ``Params`` schema. Unknown keys are rejected at every level, and every
parameter also accepts its sweep (:mod:`bench.sweeps`): a non-empty list of its values, so a
list-typed parameter is swept by a list of lists. Editors validate a suite with it (the VS
Code YAML extension: ``# yaml-language-server: $schema=suite.schema.json``). What a schema cannot
say (patterns that must match, split names a dataset knows, the grid's size) ``bench validate``
checks.
"""

from __future__ import annotations

import copy
from typing import Any

from bench.pluginmanager import Plugins
from bench.suite import AttackSpec, ComponentSpec, DatasetSpec, Suite

DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: suite section -> (plugin kind, the spec model of its entries)
SECTIONS: dict[str, tuple[str, type[ComponentSpec]]] = {
    "dataset": ("dataset", DatasetSpec),
    "models": ("model", ComponentSpec),
    "defenses": ("defense", ComponentSpec),
    "attacks": ("attack", AttackSpec),
}


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    """``node`` with every ``#/$defs/X`` reference renamed (``renames``: X -> new name)."""
    if isinstance(node, dict):
        out = {k: _rename_refs(v, renames) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = "#/$defs/" + renames.get(ref.removeprefix("#/$defs/"),
                                                   ref.removeprefix("#/$defs/"))
        return out
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def sweepable(value: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema that also accepts its sweep: a non-empty list of its values."""
    value = {k: v for k, v in value.items() if k not in ("title", "default", "description")}
    sweep = {"type": "array", "minItems": 1, "items": value}
    return {"anyOf": [value, sweep]}


def params_schema(cls: Any, prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of a plugin's ``params`` mapping (sweeps allowed, unknown keys refused); its
    ``$defs`` go into ``defs`` under names prefixed with ``prefix``."""
    schema = cls.Params.model_json_schema()
    own = schema.pop("$defs", {})
    renames = {name: f"{prefix}.{name}" for name in own}
    for name, sub in own.items():
        defs[renames[name]] = _rename_refs(sub, renames)
    schema = _rename_refs(schema, renames)
    props = {}
    for key, sub in schema.get("properties", {}).items():
        entry = sweepable(sub)
        for doc in ("title", "description", "default"):
            if doc in sub:
                entry[doc] = sub[doc]
        props[key] = entry
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if schema.get("required"):
        out["required"] = schema["required"]
    return out


def entry_schema(kind: str, spec: type[ComponentSpec], plugins: Plugins,
                 defs: dict[str, Any]) -> dict[str, Any]:
    """One suite entry of ``kind``: a ``oneOf`` with a branch per registered plugin."""
    base = spec.model_json_schema()
    base.pop("$defs", None)
    branches = []
    for name, cls in plugins.registry(kind).items():
        branch = copy.deepcopy(base)
        branch["title"] = f"{kind} {name}"
        if getattr(cls, "description", ""):
            branch["description"] = cls.description
        branch["properties"]["name"] = {"const": name}
        branch["properties"]["params"] = params_schema(cls, f"{kind}.{name}", defs)
        branches.append(branch)
    return {"oneOf": branches} if branches else {"not": {}}


def suite_schema(plugins: Plugins) -> dict[str, Any]:
    """The suite's JSON schema with the plugins' parameters (see the module docstring)."""
    schema = Suite.model_json_schema()
    defs = schema.setdefault("$defs", {})
    props = schema["properties"]
    for section, (kind, spec) in SECTIONS.items():
        entry = entry_schema(kind, spec, plugins, defs)
        defs[f"{kind}-entry"] = entry
        ref = {"$ref": f"#/$defs/{kind}-entry"}
        if section == "dataset":
            props[section] = ref
        else:
            _replace_items(props[section], ref)
    schema["$schema"] = DIALECT
    schema["x-plugins"] = {  # each plugin's own Params schema, as pydantic gives it
        kind: {name: cls.Params.model_json_schema() for name, cls in reg.items()}
        for kind, reg in plugins.registries.items()
    }
    return schema


def _replace_items(node: dict[str, Any], items: dict[str, Any]) -> None:
    """Point the ``items`` of the array schema in ``node`` (or in one of its ``anyOf``
    members: an optional list) at ``items``."""
    if node.get("type") == "array":
        node["items"] = items
    for member in node.get("anyOf", []):
        _replace_items(member, items)
