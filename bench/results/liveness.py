"""Is a run's driver still alive? A run recorded ``running`` whose process is gone is shown
``interrupted`` (computed when read, never written back)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def proc_start(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks after boot, from ``/proc``), or None.
    With the pid it identifies a process: a reused pid has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def driver_gone(run: Mapping[str, Any]) -> bool:
    """True when ``run`` is recorded as running on this host and the process that drove it is
    gone (no such pid, a zombie, or the pid now belongs to a process started later). A run on
    another host, or one recorded before pids were, cannot be told: False."""
    pid, host = run.get("driver_pid"), run.get("driver_host")
    if run.get("status") != "running" or pid is None or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    except (OSError, OverflowError, ValueError):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return True
    start = run.get("driver_start")
    return start is not None and proc_start(int(pid)) not in (None, int(start))


def effective_status(run: Mapping[str, Any]) -> str:
    """The status to show: ``interrupted`` for a run whose driver is gone (computed when read,
    never written back)."""
    return "interrupted" if driver_gone(run) else str(run["status"])
