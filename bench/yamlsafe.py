"""YAML for suites and ``--set`` values: safe, bounded, and strict about duplicate keys.

On top of PyYAML's safe loader:

- a mapping that repeats a key is an error (line and column of the second occurrence), not a
  silent last-wins;
- a document may hold at most :data:`MAX_NODES` values once its aliases (``*name``) are
  expanded, nest at most :data:`MAX_DEPTH` levels and use no alias inside its own anchor:
  a "billion laughs" document is refused in one linear pass over the parser's events, before
  anything is built from it;
- a value that a tag cannot be built from (``!!int abc``, ``2020-13-45`` as a date) is an
  error with its position instead of a stray ``ValueError``.

Every problem raises :class:`bench.errors.ConfigError` with one line that starts with ``where``.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)
from yaml.nodes import MappingNode

from bench.errors import ConfigError

__all__ = ["MAX_DEPTH", "MAX_NODES", "load_yaml", "one_line", "short_repr"]

#: values of a document, counted with every alias expanded
MAX_NODES = 100_000
#: nesting of sequences and mappings
MAX_DEPTH = 64

# the pure-Python loader: its messages are clearer than libyaml's, and a suite is small
_Base: Any = yaml.SafeLoader
_MERGE_TAG = "tag:yaml.org,2002:merge"


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) folded into one space."""
    return " ".join(str(text).split())


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters (never several lines)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<{type(value).__name__}>"
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Refused(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.mark = mark


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, refusing duplicate keys and wrapping construction errors."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable: the base class says so with its position
                    continue
                if first is not None:
                    raise ConstructorError(
                        None, None,
                        f"duplicate key {short_repr(key)} (first at line {first.line + 1}, "
                        f"column {first.column + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ConstructorError(
                None, None, f"cannot read {short_repr(node.value, 40)} as "
                f"{node.tag.replace('tag:yaml.org,2002:', '!!')}: "
                f"{one_line(str(exc))}", node.start_mark
            ) from None


def _check_events(text: str) -> None:
    """Refuse deep nesting, recursive aliases and alias expansion beyond :data:`MAX_NODES`."""
    sizes: dict[str, int] = {}  # anchor -> expanded size of its node
    stack: list[list[Any]] = []  # open collections: [expanded size so far, anchor]
    open_anchors: set[str] = set()
    total = 0
    for event in yaml.parse(text, Loader=_Base):
        if isinstance(event, CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            stack.append([1, event.anchor])
            if event.anchor:
                open_anchors.add(event.anchor)
            continue
        if isinstance(event, CollectionEndEvent):
            size, anchor = stack.pop()
            if anchor:
                open_anchors.discard(anchor)
                sizes[anchor] = size
        elif isinstance(event, AliasEvent):
            if event.anchor in open_anchors:
                raise _Refused(f"alias *{event.anchor} is used inside its own anchor",
                               event.start_mark)
            size = sizes.get(event.anchor or "", 1)  # an undefined alias: the composer's error
        elif isinstance(event, ScalarEvent):
            size = 1
            if event.anchor:
                sizes[event.anchor] = 1
        else:
            continue
        if stack:
            stack[-1][0] += size
            size = stack[-1][0]
        else:
            total += size
            size = total
        if size > MAX_NODES:
            raise _Refused(
                f"more than {MAX_NODES} values once aliases are expanded; refusing to expand it",
                event.start_mark,
            )


def load_yaml(text: str, where: str) -> Any:
    """Parse one YAML document safely; raise ConfigError ``"{where}: ..."`` on any problem."""
    try:
        _check_events(text)
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a safe loader
    except _Refused as exc:
        raise ConfigError(f"{where}:{_at(exc.mark)}: invalid YAML: {exc}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line, column = _line_column(text, exc.position)
        raise ConfigError(f"{where}: line {line}, column {column}: invalid YAML: "
                          f"{one_line(str(exc).splitlines()[0])}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        if context and problem.startswith("but "):  # "expected a single document ..., but ..."
            problem = f"{context}, {problem}"
        raise ConfigError(f"{where}:{_at(mark)}: invalid YAML: {one_line(problem)}") from None
    except UnicodeError as exc:  # e.g. a lone surrogate from an undecodable argv byte
        raise ConfigError(f"{where}: invalid YAML: not valid text ({one_line(str(exc))})") from None
    except RecursionError:
        raise ConfigError(f"{where}: invalid YAML: nested too deeply") from None


def _at(mark: Any) -> str:
    return f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""



def _line_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of character ``position`` of ``text``."""
    before = text[:position]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
