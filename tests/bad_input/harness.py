"""Table-driven bad inputs against the real ``bench`` command (issue 7).

Every case runs ``python -m bench ARGS`` in a subprocess inside its own copy of a small world
(a real result store holding one finished run, a trained-model cache, the tiny suite) and
asserts four things:

- the exit code;
- the exact one-line message on stderr (``{tmp}``, ``{tiny}`` and ``{store}`` are filled in);
  with ``last_line=True`` only the last non-empty line of stderr is compared (runs that print
  progress or cell failures before their final error);
- no ``Traceback`` anywhere in stdout or stderr;
- no file under the world changed, appeared or vanished, except paths matching ``may_change``
  (globs relative to the world, e.g. ``"out/*"``).

A case's ``setup(world)`` writes whatever bad file it needs before the snapshot is taken.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import DATA, REPO_ROOT

TINY = DATA / "tiny.yaml"


@dataclass
class Case:
    id: str
    args: list[str]
    message: str
    exit_code: int = 4
    setup: Callable[[Path], None] | None = None
    may_change: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    last_line: bool = False
    timeout: float = 300


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (sha256, mode) of every file under ``root``."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(),
                                             p.stat().st_mode)
    return out


def make_world(root: Path) -> Path:
    """A real store with one finished tiny run and the cache that run filled."""
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ARTBENCH_STORE": str(root / "store.sqlite"),
           "ARTBENCH_CACHE_DIR": str(root / "cache")}
    res = subprocess.run([sys.executable, "-m", "bench", "run", str(TINY), "--quiet"],
                         capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    # fold the WAL into the main file so that a copy is the whole store
    db = sqlite3.connect(root / "store.sqlite")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for extra in ("store.sqlite-wal", "store.sqlite-shm"):
        (root / extra).unlink(missing_ok=True)
    return root


def copy_world(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


def run_case(case: Case, world: Path) -> subprocess.CompletedProcess[str]:
    """Run ``case`` in ``world`` (already a private copy) and assert everything it promises."""
    if case.setup is not None:
        case.setup(world)
    fill = {"tmp": str(world), "tiny": str(TINY), "store": str(world / "store.sqlite"),
            "repo": str(REPO_ROOT)}
    args = [a.format(**fill) for a in case.args]
    before = snapshot(world)
    env = {**os.environ, "ARTBENCH_STORE": str(world / "store.sqlite"),
           "ARTBENCH_CACHE_DIR": str(world / "cache"), "COLUMNS": "200",
           **{k: v.format(**fill) for k, v in case.env.items()}}
    res = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                         env=env, cwd=world, timeout=case.timeout)
    where = f"{case.id}: bench {' '.join(args)}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
    assert "Traceback" not in res.stdout + res.stderr, where
    assert res.returncode == case.exit_code, where
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    expected = case.message.format(**fill)
    if case.last_line:
        assert lines and lines[-1] == expected, where
    else:
        assert lines == [expected], where
    after = snapshot(world)
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    # SQLite's own side files of a store opened for writing are not a change of the store
    unexpected = {p for p in changed
                  if not any(fnmatch.fnmatch(p, pat) for pat in case.may_change)}
    assert not unexpected, f"{where}\nchanged files: {sorted(unexpected)}"
    return res


__all__ = ["Case", "REPO_ROOT", "TINY", "copy_world", "make_world", "run_case", "snapshot"]
