"""Fault injection for the kill tests: ``-p die_in_write.py`` with ``DIE_IN_WRITE=N`` makes the
driver SIGKILL itself in the middle of its N-th cell write, inside the open SQLite transaction
(after the cell's row and metrics are inserted, before the commit)."""

import os
import signal

from bench import hookimpl
from bench.results.store import Store

_add_cell = Store.add_cell
_calls = 0


class _DyingConnection:
    """The store's connection, except that inserting per-sample rows kills the process."""

    def __init__(self, conn):
        self._conn = conn

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def __enter__(self):
        self._conn.__enter__()
        return self

    def __exit__(self, *exc):
        return self._conn.__exit__(*exc)

    def executemany(self, sql, rows):
        out = self._conn.executemany(sql, rows)
        if "INTO samples" in sql:
            os.kill(os.getpid(), signal.SIGKILL)
        return out


def add_cell(self, *args, **kwargs):
    global _calls
    _calls += 1
    if _calls == int(os.environ.get("DIE_IN_WRITE", "0")):
        self.conn = _DyingConnection(self.conn)
    return _add_cell(self, *args, **kwargs)


Store.add_cell = add_cell


@hookimpl
def bench_run_start(run_id, suite, cell_ids):
    """(A plugin file needs one hook implementation.)"""
