"""Registries of plugin classes, one per kind: filled once, then frozen."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

from bench.errors import PluginError
from bench.interfaces import Plugin

P = TypeVar("P", bound=Plugin)

KINDS = ("dataset", "model", "defense", "attack", "reporter", "executor", "tracker")


class Registry(Generic[P]):
    """Name -> plugin class for one kind, remembering which distribution provided each."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[P]] = {}
        self._providers: dict[str, str] = {}
        self._frozen = False

    def add(self, cls: type[P], provider: str) -> None:
        if self._frozen:
            raise RuntimeError(f"{self.kind} registry is frozen")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{provider}: {self.kind} class {cls.__qualname__} has no name")
        if name in self._classes:
            raise PluginError(
                f"Duplicate {self.kind} '{name}': provided by both "
                f"{self._providers[name]} and {provider}"
            )
        self._classes[name] = cls
        self._providers[name] = provider

    def freeze(self) -> None:
        self._frozen = True

    def get(self, name: str) -> type[P]:
        try:
            return self._classes[name]
        except KeyError:
            raise PluginError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        names = sorted(self._classes)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        available = ", ".join(names) if names else "(none loaded)"
        return f"Unknown {self.kind} '{name}'.{hint} Available: {available}"

    def provider(self, name: str) -> str:
        return self._providers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._classes))

    def __len__(self) -> int:
        return len(self._classes)

    def items(self) -> list[tuple[str, type[P]]]:
        return [(n, self._classes[n]) for n in self]
