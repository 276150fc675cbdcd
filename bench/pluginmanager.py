"""Plugin discovery: entry points of the ``artbench`` group, ``-p`` one-offs, ``-p no:NAME`` blocks.

Set ``ARTBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` to load only artbench's own built-in entry point.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from bench import ENTRY_POINT_GROUP, PROJECT, hookspecs
from bench.errors import PluginError
from bench.registry import Registry

AUTOLOAD_ENV = "ARTBENCH_DISABLE_PLUGIN_AUTOLOAD"
OWN_DISTRIBUTION = "artbench"

REGISTRATION_HOOKS = {
    "dataset": "bench_register_datasets",
    "model": "bench_register_models",
    "defense": "bench_register_defenses",
    "attack": "bench_register_attacks",
    "reporter": "bench_register_reporters",
}


@dataclass
class LoadedPlugin:
    """One registered plugin module and what it provides."""

    name: str
    distribution: str
    version: str
    provides: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Plugins:
    """The plugin manager plus one frozen registry per kind."""

    pm: pluggy.PluginManager
    registries: dict[str, Registry[Any]]
    loaded: list[LoadedPlugin]

    def registry(self, kind: str) -> Registry[Any]:
        return self.registries[kind]

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def plugin_version(self, kind: str, name: str) -> str:
        return str(getattr(self.registries[kind].get(name), "version", "0"))


def _import_one_off(spec: str) -> ModuleType:
    """Import ``-p`` argument: a module name, or a path to a ``.py`` file."""
    path = Path(spec)
    if spec.endswith(".py") or path.exists():
        if not path.is_file():
            raise PluginError(f"-p {spec}: no such plugin file")
        mod_name = f"artbench_local_{path.stem}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise PluginError(f"-p {spec}: cannot import this file")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        loader_spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise PluginError(f"-p {spec}: cannot import module ({exc})") from None


def load_plugins(extra: list[str] | None = None, autoload: bool | None = None) -> Plugins:
    """Discover, register and freeze every plugin. ``extra`` holds ``-p`` arguments."""
    extra = list(extra or [])
    blocked = {p[3:] for p in extra if p.startswith("no:")}
    one_offs = [p for p in extra if not p.startswith("no:")]
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)

    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    meta: dict[str, tuple[str, str]] = {}

    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        version = ep.dist.version if ep.dist is not None else "?"
        if ep.name in blocked or (not autoload and dist != OWN_DISTRIBUTION):
            continue
        if pm.has_plugin(ep.name):
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party plugin: say which, not a traceback
            raise PluginError(
                f"plugin '{ep.name}' from {dist} {version} failed to import: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        pm.register(module, name=ep.name)
        meta[ep.name] = (dist, version)

    for spec in one_offs:
        module = _import_one_off(spec)
        name = module.__name__
        if name in blocked or pm.has_plugin(name):
            continue
        pm.register(module, name=name)
        meta[name] = ("-p " + spec, str(getattr(module, "__version__", "local")))

    registries: dict[str, Registry[Any]] = {k: Registry(k) for k in REGISTRATION_HOOKS}
    loaded = {n: LoadedPlugin(n, *meta[n]) for n in meta}
    for kind, hook_name in REGISTRATION_HOOKS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            dist, version = meta.get(impl.plugin_name, ("?", "?"))
            provider = f"{impl.plugin_name} ({dist} {version})"
            try:
                classes = impl.function() or []
            except Exception as exc:
                raise PluginError(
                    f"plugin '{impl.plugin_name}' failed in {hook_name}: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            for cls in classes:
                registries[kind].add(cls, provider)
                if impl.plugin_name in loaded:
                    loaded[impl.plugin_name].provides.setdefault(kind, []).append(cls.name)
    for reg in registries.values():
        reg.freeze()
    return Plugins(pm, registries, list(loaded.values()))
