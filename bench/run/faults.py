"""Plugin code that misbehaves: what counts as its fault, and one line that says what it did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError, PluginInitError
from bench.interrupts import Interrupted, is_real_interrupt, received_signal

#: what plugin code may raise without ending the run: a plugin's ``sys.exit()`` or
#: ``KeyboardInterrupt`` fails its cell like any exception (a real Ctrl-C is told apart)
PLUGIN_FAULTS = (Exception, SystemExit, KeyboardInterrupt)


def error_text(exc: BaseException) -> str:
    if isinstance(exc, BenchError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def fault_text(exc: BaseException) -> str:
    """One line for an exception raised by plugin code. A signal delivered to the process while
    plugin code ran (whatever the plugin turned it into) is re-raised as :class:`Interrupted`."""
    if isinstance(exc, KeyboardInterrupt) and is_real_interrupt(exc):
        raise exc
    signum = received_signal()
    if signum is not None:
        raise Interrupted(signum) from exc
    if isinstance(exc, SystemExit | KeyboardInterrupt):
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb else ""
        return f"plugin raised {exc!r}{where}"
    text = error_text(exc)
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        text += " (inputs handed to plugins are read-only: copy an array before changing it)"
    return text


def trace_text(exc: BaseException) -> str | None:
    """The traceback worth showing for a plugin's failure (None for a BenchError: its one line
    says it all)."""
    import traceback

    if isinstance(exc, PluginInitError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, BenchError):
        return None
    return "".join(traceback.format_exception(exc)).rstrip()


def instantiate(component: Any) -> Any:
    """``component``'s plugin instance; its ``__init__`` raising is a :class:`PluginInitError`."""
    try:
        return component.instantiate()
    except PLUGIN_FAULTS as exc:
        raise PluginInitError(f"{component.kind} '{component.name}' failed in __init__: "
                              f"{fault_text(exc)}") from exc


def sealed(a: np.ndarray) -> np.ndarray:
    """``a`` as a read-only array that owns its memory (copied when it is a view): views of it
    handed to plugins cannot be made writeable again."""
    owner = a if a.base is None and type(a) is np.ndarray else np.array(a, copy=True)
    owner.flags.writeable = False
    return owner


def readonly_copy(a: np.ndarray) -> np.ndarray:
    """A private read-only copy of ``a`` for one plugin call (a view, so it stays read-only)."""
    return sealed(np.array(a, copy=True)).view()
