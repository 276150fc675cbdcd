"""``--set path=value`` overrides applied to a suite mapping before validation.

Paths use dots and brackets: ``evaluation.samples=50``, ``models[0].params.epochs=2``.
A bracket may also hold a plugin name, meaning every list entry with that name:
``attacks[cw-l2].samples=5``. Values are parsed as YAML (``[1, 2]`` is a list, ``0.1`` a float).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from bench.errors import ConfigError

_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[([^\]]+)\]")


def parse_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or (pos == 0 and path.startswith(".")):
            raise ConfigError(f"--set {path}: malformed field path")
        key, index = m.groups()
        if key is not None:
            parts.append(key)
        else:
            parts.append(int(index) if index.lstrip("-").isdigit() else f"name={index}")
        pos = m.end()
    if not parts:
        raise ConfigError("--set: empty field path")
    return parts


def _children(node: Any, part: str | int, where: str) -> list[Any]:
    """Containers addressed by ``part`` under ``node`` (several for a name selector)."""
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
            names = ", ".join(str(e.get("name")) for e in node if isinstance(e, dict))
            raise ConfigError(f"--set {where}: no entry named '{name}' (entries: {names})")
        return found
    if not isinstance(node, dict):
        raise ConfigError(f"--set {where}: not a mapping")
    if node.get(part) is None:
        node[part] = {}
    return [node[part]]


def apply_override(data: dict[str, Any], assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment}: expected path=value")
    path, raw = assignment.split("=", 1)
    parts = parse_path(path.strip())
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"--set {path}: cannot parse value {raw!r}") from None
    nodes: list[Any] = [data]
    for part in parts[:-1]:
        nodes = [child for node in nodes for child in _children(node, part, path)]
    last = parts[-1]
    for node in nodes:
        if isinstance(last, int) or last.startswith("name="):
            raise ConfigError(f"--set {path}: cannot replace a whole list entry; set its fields")
        if not isinstance(node, dict):
            raise ConfigError(f"--set {path}: not a mapping")
        node[last] = value


def apply_overrides(data: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for assignment in assignments:
        apply_override(out, assignment)
    return out
