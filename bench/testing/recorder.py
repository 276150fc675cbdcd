"""A plugin that records every run-lifecycle hook call (``bench_run_start``,
``bench_cell_finished``, ``bench_run_end``, and any hook :mod:`bench.hookspecs` gains), with all
its keyword arguments, into the :class:`HookRecorder` objects active now.

``run_suite`` loads this module with ``-p bench.testing.recorder`` while a recorder is active
(the ``bench_hook_recorder`` fixture); any in-process ``load_plugins(["bench.testing.recorder"])``
works too. Its hook implementations are generated from the hook specifications, so a hook's
full argument list is recorded whatever it becomes.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import Any

from bench import hookimpl, hookspecs

#: this module's name, as ``-p`` takes it
MODULE = __name__


@dataclass(frozen=True)
class HookCall:
    """One hook call: its name and every argument, by name (deep copies)."""

    name: str
    kwargs: dict[str, Any]


@dataclass
class HookRecorder:
    """Records the lifecycle hook calls of the runs made while it is active."""

    calls: list[HookCall] = field(default_factory=list)

    def names(self) -> list[str]:
        """Hook names in call order, e.g. ``["bench_run_start", "bench_cell_finished", ...]``."""
        return [c.name for c in self.calls]

    def of(self, name: str) -> list[dict[str, Any]]:
        """The arguments of every call of hook ``name``, in order."""
        if not hasattr(hookspecs, name):
            raise ValueError(f"no hook named {name!r} in bench.hookspecs")
        return [c.kwargs for c in self.calls if c.name == name]

    def clear(self) -> None:
        self.calls.clear()


#: the recorders that receive calls now (the fixture adds and removes its own)
ACTIVE: list[HookRecorder] = []


def _record(name: str, kwargs: dict[str, Any]) -> None:
    try:
        kept = copy.deepcopy(kwargs)
    except Exception:  # an argument that cannot be copied is recorded as it is
        kept = dict(kwargs)
    for recorder in ACTIVE:
        recorder.calls.append(HookCall(name, kept))


def lifecycle_hooks() -> dict[str, list[str]]:
    """Every observer hook of :mod:`bench.hookspecs` (all but the registration hooks) and its
    argument names."""
    return {name: list(inspect.signature(spec).parameters)
            for name, spec in vars(hookspecs).items()
            if name.startswith("bench_") and not name.startswith("bench_register_")
            and inspect.isfunction(spec)}


def _make_impl(name: str, args: list[str]) -> Any:
    """A function named ``name`` taking exactly ``args`` (pluggy passes the arguments a hook
    implementation names), recording them all."""
    if not all(a.isidentifier() for a in args):  # names come from our own hookspecs
        raise ValueError(f"{name}: unexpected argument names {args}")
    source = (f"def {name}({', '.join(args)}):\n"
              f"    _record({name!r}, {{{', '.join(f'{a!r}: {a}' for a in args)}}})\n")
    namespace: dict[str, Any] = {"_record": _record}
    exec(source, namespace)  # noqa: S102 - the argument list of a hookspec is only known here
    function = namespace[name]
    function.__module__ = __name__
    return hookimpl(function)


for _name, _args in lifecycle_hooks().items():
    globals()[_name] = _make_impl(_name, _args)
