"""Plugin discovery: entry points of the ``artbench`` group, ``-p`` one-offs, ``-p no:NAME`` blocks.

Set ``ARTBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` to load only artbench's own built-in entry point.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from bench import ENTRY_POINT_GROUP, PROJECT, hookspecs
from bench.errors import PluginError
from bench.interrupts import is_real_interrupt
from bench.registry import Registry

AUTOLOAD_ENV = "ARTBENCH_DISABLE_PLUGIN_AUTOLOAD"
OWN_DISTRIBUTION = "artbench"

REGISTRATION_HOOKS = {
    "dataset": "bench_register_datasets",
    "model": "bench_register_models",
    "defense": "bench_register_defenses",
    "attack": "bench_register_attacks",
    "reporter": "bench_register_reporters",
    "executor": "bench_register_executors",
    "tracker": "bench_register_trackers",
}


@dataclass
class LoadedPlugin:
    """One registered plugin module and what it provides."""

    name: str
    distribution: str
    version: str
    provides: dict[str, list[str]] = field(default_factory=dict)
    #: the lifecycle hooks it implements (``bench_cell_finished``, ...): what a hook-only
    #: plugin provides
    hooks: list[str] = field(default_factory=list)


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

    def notify(self, hook_name: str, **kwargs: Any) -> list[tuple[str, BaseException]]:
        """Call every implementation of an observer hook (return values are ignored), in
        pluggy's order but each on its own, so that one that raises stops neither the others nor
        the run. Returns ``(plugin name, exception)`` per failure; a real interrupt propagates."""
        failures: list[tuple[str, BaseException]] = []
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        for impl in reversed(impls):
            try:
                if impl.hookwrapper or impl.wrapper:  # a wrapper only runs through pluggy
                    others = [i.plugin for i in impls if i.plugin is not impl.plugin]
                    self.pm.subset_hook_caller(hook_name, others)(**kwargs)
                else:
                    impl.function(*(kwargs[a] for a in impl.argnames))
            except (Exception, SystemExit, KeyboardInterrupt) as exc:
                if isinstance(exc, KeyboardInterrupt) and is_real_interrupt(exc):
                    raise
                failures.append((impl.plugin_name, exc))
        return failures


def _import_failure(spec: str, exc: BaseException) -> PluginError:
    """One line for a ``-p`` plugin whose import raised: a syntax error names file and line."""
    if isinstance(exc, SyntaxError):
        where = exc.filename or spec
        if exc.filename and spec.endswith(".py") and Path(exc.filename).resolve() == \
                Path(spec).resolve():
            where = spec
        return PluginError(f"-p {spec}: syntax error at {where}:{exc.lineno}: {exc.msg}")
    return PluginError(f"-p {spec}: import failed: {type(exc).__name__}: {exc}")


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
        try:
            loader_spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            sys.modules.pop(mod_name, None)
            raise _import_failure(spec, exc) from None
        return module
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        if exc.name is not None and spec.startswith(exc.name):  # the module itself is missing
            raise PluginError(f"-p {spec}: cannot import module ({exc})") from None
        raise _import_failure(spec, exc) from None
    except (Exception, SystemExit) as exc:
        raise _import_failure(spec, exc) from None


def _register(pm: pluggy.PluginManager, module: ModuleType, name: str, who: str) -> None:
    _check_unmarked(pm, module, who)
    try:
        pm.register(module, name=name)
    except pluggy.PluginValidationError as exc:  # e.g. an argument the hookspec does not have
        text = " ".join(str(exc).split())
        raise PluginError(f"{who}: {text}") from None


def _check_unmarked(pm: pluggy.PluginManager, module: ModuleType, who: str) -> None:
    """A ``bench_*`` function the plugin defines without ``@hookimpl`` would be ignored by
    pluggy: refuse it (a forgotten decorator, often with a misspelled name)."""
    known = sorted(n for n in dir(hookspecs) if n.startswith("bench_"))
    for attr, value in sorted(vars(module).items()):
        if not (attr.startswith("bench_") and inspect.isfunction(value)
                and value.__module__ == module.__name__):
            continue
        if pm.parse_hookimpl_opts(module, attr) is None:
            close = difflib.get_close_matches(attr, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close and close[0] != attr else ""
            raise PluginError(f"{who}: function '{attr}'{hint} is not decorated with @hookimpl "
                              "from bench, so it would never be called")


def _check_hook_names(pm: pluggy.PluginManager, who: dict[str, str]) -> None:
    """pluggy's validation: every ``@hookimpl`` must name a hook of :mod:`bench.hookspecs`."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        pass
    else:
        return
    known = sorted(n for n in dir(hookspecs) if n.startswith("bench_"))
    for name in sorted(pm.hook.__dict__):
        caller = getattr(pm.hook, name)
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" Did you mean: {close[0]}?" if close else ""
            raise PluginError(f"{who.get(impl.plugin_name, impl.plugin_name)}: unknown hook "
                              f"'{name}'.{hint}")


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
    #: plugin name -> how to name it in an error message
    who: dict[str, str] = {}
    blockable: set[str] = set()

    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        version = ep.dist.version if ep.dist is not None else "?"
        blockable.add(ep.name)
        if ep.name in blocked or (not autoload and dist != OWN_DISTRIBUTION):
            continue
        if pm.has_plugin(ep.name):
            continue
        who[ep.name] = f"plugin '{ep.name}' from {dist} {version}"
        try:
            module = ep.load()
        except (Exception, SystemExit) as exc:  # a broken third-party plugin: say which
            raise PluginError(
                f"{who[ep.name]} failed to import: {type(exc).__name__}: {exc}"
            ) from None
        _register(pm, module, ep.name, who[ep.name])
        meta[ep.name] = (dist, version)

    for spec in one_offs:
        module = _import_one_off(spec)
        name = module.__name__
        blockable.add(name)
        if name in blocked or pm.has_plugin(name):
            continue
        who[name] = f"-p {spec}"
        try:
            _register(pm, module, name, who[name])
        except PluginError:
            sys.modules.pop(name, None)
            raise
        if not pm.get_hookcallers(module):
            pm.unregister(module)
            sys.modules.pop(name, None)
            raise PluginError(f"-p {spec}: no hook implementations in it (a plugin defines "
                              "functions decorated with @hookimpl from bench)")
        meta[name] = ("-p " + spec, str(getattr(module, "__version__", "local")))

    unknown = sorted(blocked - blockable)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(blockable), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise PluginError(f"-p no:{unknown[0]}: no plugin named '{unknown[0]}'.{hint} "
                          f"Can be blocked: {', '.join(sorted(blockable)) or '(none)'}")
    _check_hook_names(pm, who)

    registries: dict[str, Registry[Any]] = {k: Registry(k) for k in REGISTRATION_HOOKS}
    loaded = {n: LoadedPlugin(n, *meta[n]) for n in meta}
    for kind, hook_name in REGISTRATION_HOOKS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            dist, version = meta.get(impl.plugin_name, ("?", "?"))
            provider = f"{impl.plugin_name} ({dist} {version})"
            try:
                classes = impl.function() or []
            except (Exception, SystemExit) as exc:
                raise PluginError(
                    f"plugin '{impl.plugin_name}' failed in {hook_name}: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            for cls in classes:
                registries[kind].add(cls, provider)
                if impl.plugin_name in loaded:
                    loaded[impl.plugin_name].provides.setdefault(kind, []).append(cls.name)
    _declare_metrics(pm, meta, loaded)
    for plugin in loaded.values():
        module = pm.get_plugin(plugin.name)
        plugin.hooks = sorted(c.name for c in pm.get_hookcallers(module) or []
                              if c.name not in REGISTRATION_HOOKS.values()
                              and c.name != "bench_register_metrics")
    for reg in registries.values():
        reg.freeze()
    return Plugins(pm, registries, list(loaded.values()))


def _declare_metrics(pm: pluggy.PluginManager, meta: dict[str, tuple[str, str]],
                     loaded: dict[str, LoadedPlugin]) -> None:
    """Collect ``bench_register_metrics`` declarations (:mod:`bench.results.metrics`)."""
    from bench.results.metrics import use_plugin_metrics

    declarations = []
    for impl in pm.hook.bench_register_metrics.get_hookimpls():
        dist, version = meta.get(impl.plugin_name, ("?", "?"))
        try:
            declared: Any = impl.function()
            metrics = list(declared or [])
        except (Exception, SystemExit) as exc:
            raise PluginError(f"plugin '{impl.plugin_name}' failed in bench_register_metrics: "
                              f"{type(exc).__name__}: {exc}") from None
        for m in metrics:
            declarations.append((m, f"{impl.plugin_name} ({dist} {version})"))
            if impl.plugin_name in loaded:
                loaded[impl.plugin_name].provides.setdefault("metric", []).append(
                    str(getattr(m, "name", m)))
    use_plugin_metrics(declarations)
