"""``--set path=value`` overrides applied to a suite mapping before validation.

Paths use dots and brackets: ``evaluation.samples=50``, ``models[0].params.epochs=2``.
A bracket may also hold a plugin name, meaning every list entry with that name:
``attacks[cw-l2].samples=5``. Values are parsed as YAML (``[1, 2]`` is a list, ``0.1`` a float).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from bench.errors import ConfigError
from bench.yamlsafe import load_yaml, short_repr

_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[([^\]]+)\]")
_INDEX = re.compile(r"-?[0-9]{1,18}")
#: longest ``--set`` value (YAML text) accepted
MAX_VALUE_CHARS = 1 << 16
#: longest field path accepted
MAX_PATH_CHARS = 1000


def _show(path: str) -> str:
    """The path as typed when it is short and printable, else a cut ``repr``."""
    return path if path.isprintable() and len(path) <= 100 else short_repr(path)


def parse_path(path: str) -> list[str | int]:
    if len(path) > MAX_PATH_CHARS:
        raise ConfigError(f"--set {_show(path)}: field path longer than {MAX_PATH_CHARS} "
                          "characters")
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or (pos == 0 and path.startswith(".")):
            raise ConfigError(f"--set {_show(path)}: malformed field path")
        key, index = m.groups()
        if key is not None:
            parts.append(key)
        else:
            parts.append(int(index) if _INDEX.fullmatch(index) else f"name={index}")
        pos = m.end()
    if not parts:
        raise ConfigError("--set: empty field path")
    return parts


def _children(node: Any, part: str | int, path: str) -> list[Any]:
    """Containers addressed by ``part`` under ``node`` (several for a name selector)."""
    where = _show(path)
    if isinstance(part, int):
        if not isinstance(node, list):
            raise ConfigError(f"--set {where}: not a list")
        if not -len(node) <= part < len(node):
            raise ConfigError(f"--set {where}: no entry [{part}] (the list has {len(node)})")
        return [node[part]]
    if part.startswith("name="):
        name = part[5:]
        if not isinstance(node, list):
            raise ConfigError(f"--set {where}: not a list")
        found = [e for e in node if isinstance(e, dict) and e.get("name") == name]
        if not found:
            names = ", ".join(short_repr(e.get("name"), 40).strip("'")
                              for e in node if isinstance(e, dict))
            raise ConfigError(f"--set {where}: no entry named '{name}' (entries: {names})")
        return found
    if not isinstance(node, dict):
        raise ConfigError(f"--set {where}: not a mapping")
    if node.get(part) is None:
        node[part] = {}
    return [node[part]]


def apply_override(data: dict[str, Any], assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"--set {_show(assignment)}: expected path=value")
    path, raw = assignment.split("=", 1)
    path = path.strip()
    parts = parse_path(path)
    if len(raw) > MAX_VALUE_CHARS:
        raise ConfigError(f"--set {_show(path)}: value of {len(raw)} characters, more than "
                          f"{MAX_VALUE_CHARS}")
    value = load_yaml(raw, f"--set {_show(path)}") if raw.strip() else ""
    nodes: list[Any] = [data]
    for part in parts[:-1]:
        nodes = [child for node in nodes for child in _children(node, part, path)]
    last = parts[-1]
    for node in nodes:
        if isinstance(last, int) or last.startswith("name="):
            raise ConfigError(f"--set {_show(path)}: cannot replace a whole list entry; set its "
                              "fields")
        if not isinstance(node, dict):
            raise ConfigError(f"--set {_show(path)}: not a mapping")
        node[last] = value


def _tree_copy(value: Any) -> Any:
    """A copy in which no two places share a container (YAML aliases become copies), so that
    ``--set`` on one place never changes another."""
    if isinstance(value, dict):
        return {k: _tree_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tree_copy(v) for v in value]
    return copy.deepcopy(value)


def apply_overrides(data: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    out = _tree_copy(data)
    for assignment in assignments:
        apply_override(out, assignment)
    return out
