"""The SQL of ``bench merge``: list a run's rows and cells, and copy them, with everything a
cell owns (metrics, timings, per-sample results, example images), into a run of another store.

Records are copied as stored: JSON as its text, example images as their bytes, timestamps as
they are. Flags are not copied (``bench merge`` computes them again on the merged run). The
writing functions are meant to be called inside ``out.transaction()``, so that a merge is
written whole or not at all; reading an input that turns out damaged names that input.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cache
from typing import Any

from bench.results.store import SCHEMA, Store


@dataclass(frozen=True)
class RowRef:
    """One stored row (a trained, defended network) of a run."""

    pk: int
    row_id: str
    model_id: str
    defense_id: str
    status: str


@dataclass(frozen=True)
class CellRef:
    """One stored cell of a run."""

    pk: int
    cell_id: str
    status: str


@cache
def columns(table: str) -> tuple[str, ...]:
    """The columns of ``table`` in the current schema (of this artbench, whatever the schema of
    the file: the read-only views of an older store add the missing ones as NULL)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(SCHEMA)
        return tuple(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
    finally:
        conn.close()


def _copied(table: str, *skip: str) -> tuple[str, ...]:
    return tuple(c for c in columns(table) if c not in skip)


def row_refs(store: Store, run_id: int) -> list[RowRef]:
    with store.reading():
        return [RowRef(*r) for r in store.conn.execute(
            "SELECT id, row_id, model_id, defense_id, status FROM rows WHERE run_id = ?"
            " ORDER BY id", (run_id,))]


def cell_refs(store: Store, run_id: int) -> list[CellRef]:
    with store.reading():
        return [CellRef(*r) for r in store.conn.execute(
            "SELECT id, cell_id, status FROM cells WHERE run_id = ? ORDER BY id", (run_id,))]


def insert_run(out: Store, values: dict[str, Any]) -> int:
    """A new run of ``out`` with these column values (the rest NULL); its id."""
    unknown = set(values) - set(_copied("runs", "id"))
    if unknown:
        raise ValueError(f"not columns of runs: {sorted(unknown)}")
    names = list(values)
    cur = out.conn.execute(
        f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        [values[n] for n in names])
    return int(cur.lastrowid or 0)


def _insert(out: Store, table: str, names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    out.conn.executemany(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)


def copy_row(src: Store, pk: int, out: Store, run_id: int) -> None:
    """Row ``pk`` of ``src`` as a row of run ``run_id`` of ``out``."""
    names = _copied("rows", "id", "run_id")
    with src.reading():
        row = tuple(src.conn.execute(f"SELECT {', '.join(names)} FROM rows WHERE id = ?",
                                     (pk,)).fetchone())
    _insert(out, "rows", ("run_id", *names), [(run_id, *row)])


def copy_cell(src: Store, pk: int, out: Store, run_id: int) -> int:
    """Cell ``pk`` of ``src`` with its metrics, timings, samples and examples as a cell of run
    ``run_id`` of ``out``; the new cell's primary key."""
    names = _copied("cells", "id", "run_id")
    owned = {table: _copied(table, "cell") for table in ("metrics", "timings", "samples",
                                                          "examples")}
    with src.reading():
        cell = tuple(src.conn.execute(f"SELECT {', '.join(names)} FROM cells WHERE id = ?",
                                      (pk,)).fetchone())
        records = {table: [tuple(r) for r in src.conn.execute(
            f"SELECT {', '.join(cols)} FROM {table} WHERE cell = ?", (pk,))]
            for table, cols in owned.items()}
    cur = out.conn.execute(
        f"INSERT INTO cells (run_id, {', '.join(names)}) VALUES "
        f"({', '.join('?' * (len(names) + 1))})", (run_id, *cell))
    new = int(cur.lastrowid or 0)
    for table, cols in owned.items():
        _insert(out, table, ("cell", *cols), [(new, *r) for r in records[table]])
    return new


__all__ = ["CellRef", "RowRef", "cell_refs", "columns", "copy_cell", "copy_row", "insert_run",
           "row_refs"]
