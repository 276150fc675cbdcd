"""The result store: one SQLite file. Every cell is written in its own transaction, so an
interrupted run keeps every cell that finished.

Only ``bench run`` writes (``Store(path)``): it creates a store in a file that is absent or
empty, and migrates one that is already an artbench store; any other file is refused and left
as it is. Reading commands open the store read-only (``Store(path, readonly=True)``): they
never create, migrate or change a file, and read older schemas through temporary views.

An artbench store carries ``PRAGMA application_id = APPLICATION_ID``; stores made before that
was set are recognised by their ``meta.schema_version`` and their ``runs`` and ``cells`` tables.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from bench.errors import StoreError
from bench.results.liveness import effective_status, proc_start
from bench.results.metrics import is_numeric
from bench.results.opening import Opening
from bench.results.schema import (
    ADDED_COLUMNS,
    APPLICATION_ID,
    FINISHED,
    SCHEMA,
    SCHEMA_VERSION,
)
from bench.timing import now_iso

__all__ = ["ADDED_COLUMNS", "APPLICATION_ID", "FINISHED", "SCHEMA", "SCHEMA_VERSION", "Store",
           "default_store_path", "effective_status", "proc_start"]

STORE_ENV = "ARTBENCH_STORE"


def _array_blob(a: np.ndarray) -> bytes:
    """An image as ``.npy`` bytes (float16: 1.5 kB for 28x28, finer than any eps we sweep)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(a, dtype=np.float16), allow_pickle=False)
    return buf.getvalue()


def _blob_array(b: bytes) -> np.ndarray:
    return np.load(io.BytesIO(b), allow_pickle=False).astype(np.float32)


def default_store_path() -> Path:
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else Path(platformdirs.user_data_dir("artbench")) / "results.sqlite"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


class Store(Opening):
    """``Store(path)`` opens for ``bench run`` (may create or migrate); ``readonly=True`` for
    every reading command (never changes the file)."""

    def __init__(self, path: Path | str | None = None, *, readonly: bool = False) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.readonly = readonly
        #: set when a read-only store's write-ahead log could not be read
        self.warning: str | None = None
        self._outer = False  # inside transaction()
        try:
            self.conn = self._open_readonly() if readonly else self._open_for_writing()
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._damaged(exc)) from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open result store ({exc.strerror})") from None
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """Turn an SQLite error met while reading (a damaged page) into one line."""
        try:
            yield self
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._damaged(exc)) from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self._outer:  # inside transaction(): that one commits or rolls back
            yield self.conn
            return
        try:
            with self.conn:
                yield self.conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: write failed ({exc})") from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Many writes in one transaction (``bench merge``): all commit at the end, or none."""
        with self._tx() as c:
            c.execute("BEGIN IMMEDIATE")
            self._outer = True
            try:
                yield c
            finally:
                self._outer = False

    # ---- writing ------------------------------------------------------------------------

    def create_run(self, suite_name: str, suite_path: str | None, suite: dict[str, Any],
                   seed: int, git_commit: str | None, machine: dict[str, Any],
                   versions: dict[str, Any], plugins: list[dict[str, Any]],
                   cells_total: int, class_names: list[str] | None = None,
                   cell_ids: list[str] | None = None, shard: str | None = None,
                   data_range: tuple[float, float] | None = None) -> int:
        """A new run, ``running``, driven by this process (its pid, host and start time are
        recorded so that readers can tell when it died); ``cell_ids``: every planned cell;
        ``shard``: ``"i/N"`` for ``bench run --shard i/N`` (``cell_ids`` are that shard's);
        ``data_range``: (low, high) of the evaluation inputs."""
        pid = os.getpid()
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO runs (suite_name, suite_path, suite_json, status, started, seed,"
                " git_commit, machine_json, versions_json, plugins_json, cells_total,"
                " class_names_json, driver_pid, driver_host, driver_start, planned_json, shard,"
                " data_range_json)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (suite_name, suite_path, _dumps(suite), now_iso(), seed, git_commit,
                 _dumps(machine), _dumps(versions), _dumps(plugins), cells_total,
                 None if class_names is None else _dumps(list(class_names)),
                 pid, socket.gethostname(), proc_start(pid),
                 None if cell_ids is None else _dumps(list(cell_ids)), shard,
                 None if data_range is None else _dumps([float(v) for v in data_range])),
            )
            return int(cur.lastrowid or 0)

    def reopen_run(self, run_id: int) -> None:
        """``bench run --resume``: the run is ``running`` again, driven by this process."""
        pid = os.getpid()
        with self._tx() as c:
            c.execute("UPDATE runs SET status = 'running', finished = NULL, driver_pid = ?,"
                      " driver_host = ?, driver_start = ? WHERE id = ?",
                      (pid, socket.gethostname(), proc_start(pid), run_id))

    def stored_statuses(self, run_id: int) -> tuple[dict[str, str], dict[str, str]]:
        """(row id -> status, cell id -> status) of what ``run_id`` holds."""
        rows = {r[0]: r[1] for r in self.conn.execute(
            "SELECT row_id, status FROM rows WHERE run_id = ?", (run_id,))}
        cells = {r[0]: r[1] for r in self.conn.execute(
            "SELECT cell_id, status FROM cells WHERE run_id = ?", (run_id,))}
        return rows, cells

    def forget(self, run_id: int, row_ids: list[str], cell_ids: list[str]) -> None:
        """Delete rows and cells of ``run_id`` that a resumed run computes again (their
        metrics, samples, flags and examples go with them), in one transaction."""
        with self._tx() as c:
            c.executemany("DELETE FROM cells WHERE run_id = ? AND cell_id = ?",
                          [(run_id, cid) for cid in cell_ids])
            c.executemany("DELETE FROM rows WHERE run_id = ? AND row_id = ?",
                          [(run_id, rid) for rid in row_ids])

    def finish_run(self, run_id: int, status: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?",
                      (status, now_iso(), run_id))

    def add_row(self, run_id: int, row: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO rows (run_id, row_id, model_id, defense_id, status, error,"
                " clean_accuracy, balanced_accuracy, eval_samples, train_seconds, training_json,"
                " diagnostics_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (run_id, row_id) DO NOTHING",
                (run_id, row["row_id"], row["model_id"], row["defense_id"], row["status"],
                 row.get("error"), row.get("clean_accuracy"), row.get("balanced_accuracy"),
                 row.get("eval_samples"), row.get("train_seconds"),
                 _dumps(row.get("training", [])), _dumps(row.get("diagnostics", {}))),
            )

    def add_cell(self, run_id: int, cell: dict[str, Any], metrics: dict[str, Any],
                 timings: dict[str, float],
                 per_sample: dict[str, np.ndarray] | None = None,
                 examples: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Write one cell, its numeric metrics, timings, per-sample results and example
        images (clean, adversarial: the first samples of the cell) atomically. Idempotent: a
        cell the run holds already is left as it is (the first write wins)."""
        numeric = {k: v for k, v in metrics.items() if is_numeric(k, v)}
        info = {k: v for k, v in metrics.items() if k not in numeric}
        info.update(cell.get("info", {}))
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO cells (run_id, cell_id, row_id, model_id, defense_id, attack_id,"
                " attack_name, plugins_json, params_json, samples, status, error, info_json,"
                " finished, source_row) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (run_id, cell_id) DO NOTHING",
                (run_id, cell["cell_id"], cell["row_id"], cell["model_id"], cell["defense_id"],
                 cell["attack_id"], cell["attack_name"], _dumps(cell["plugins"]),
                 _dumps(cell["params"]), cell.get("samples"), cell["status"],
                 cell.get("error"), _dumps(info), now_iso(), cell.get("source_row")),
            )
            if cur.rowcount == 0:
                return
            pk = cur.lastrowid
            c.executemany("INSERT INTO metrics VALUES (?, ?, ?)",
                          [(pk, k, v) for k, v in numeric.items()])
            c.executemany("INSERT INTO timings VALUES (?, ?, ?)",
                          [(pk, k, float(v)) for k, v in timings.items()])
            if per_sample:
                cols = ("y", "clean_pred", "adv_pred", "target", "success", "l0", "l2", "linf",
                        "adv_confidence", "clean_confidence")
                n = len(per_sample["y"])
                arrays = [per_sample.get(k) for k in cols]
                c.executemany(
                    "INSERT INTO samples (cell, idx, label, clean_pred, adv_pred, target, success,"
                    " l0, l2, linf, confidence, clean_confidence)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(pk, i, *(None if a is None else a[i].item() for a in arrays))
                     for i in range(n)],
                )
            if examples is not None:
                c.executemany("INSERT INTO examples VALUES (?, ?, ?, ?)",
                              [(pk, i, _array_blob(clean), _array_blob(adv))
                               for i, (clean, adv) in enumerate(zip(*examples, strict=True))])

    # ---- reading ------------------------------------------------------------------------

    @staticmethod
    def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
        """A run as a dict; ``status`` is the effective one, ``recorded_status`` the stored."""
        d = dict(row)
        d["recorded_status"] = d["status"]
        d["status"] = effective_status(d)
        return d

    def list_runs(self) -> list[dict[str, Any]]:
        return [self._run_dict(r) for r in self.conn.execute(
            "SELECT r.*, (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.id) AS cells_done,"
            " (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.id AND c.status != 'ok')"
            " AS cells_failed FROM runs r ORDER BY r.id"
        )]

    def resolve_run(self, run: int | str | None) -> int:
        """A run id from ``None`` (latest), ``-1``/``-2`` (relative), or an id."""
        ids = [r[0] for r in self.conn.execute("SELECT id FROM runs ORDER BY id")]
        if not ids:
            raise StoreError(f"{self.path}: the store holds no runs yet")
        if run is None:
            return int(ids[-1])
        try:
            n = int(run)
        except ValueError:
            raise StoreError(f"run '{run}': expected a run id (see `bench runs`)") from None
        if n < 0 and -n <= len(ids):
            return int(ids[n])
        if n in ids:
            return n
        raise StoreError(f"{self.path}: no run {run} (runs: {ids[0]}..{ids[-1]})")

    def run(self, run_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no run {run_id}")
        return self._run_dict(row)

    def rows(self, run_id: int) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM rows WHERE run_id = ? ORDER BY id",
                                      (run_id,)))

    def cells(self, run_id: int) -> list[dict[str, Any]]:
        out = []
        for cell in self.conn.execute("SELECT * FROM cells WHERE run_id = ? ORDER BY id",
                                      (run_id,)):
            d = dict(cell)
            d["metrics"] = {r["name"]: r["value"] for r in self.conn.execute(
                "SELECT name, value FROM metrics WHERE cell = ?", (cell["id"],))}
            d["timings"] = {r["phase"]: r["seconds"] for r in self.conn.execute(
                "SELECT phase, seconds FROM timings WHERE cell = ?", (cell["id"],))}
            d["params"] = json.loads(d.pop("params_json"))
            d["plugins"] = json.loads(d.pop("plugins_json"))
            d["info"] = json.loads(d.pop("info_json") or "{}")
            out.append(d)
        return out

    def set_flags(self, flags: list[tuple[int, str, str, str]]) -> None:
        """Replace flags: (cell pk, name, status, evidence) rows, in one transaction."""
        with self._tx() as c:
            c.executemany("INSERT OR REPLACE INTO flags VALUES (?, ?, ?, ?)", flags)

    def flags(self, run_id: int) -> dict[int, list[dict[str, str]]]:
        out: dict[int, list[dict[str, str]]] = {}
        for r in self.conn.execute(
            "SELECT f.* FROM flags f JOIN cells c ON c.id = f.cell WHERE c.run_id = ?"
            " ORDER BY f.cell, f.name", (run_id,)
        ):
            out.setdefault(r["cell"], []).append(
                {"name": r["name"], "status": r["status"], "evidence": r["evidence"]})
        return out

    def examples(self, cell_pk: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (clean, adversarial) images kept for a cell, in sample order."""
        return [(_blob_array(r[0]), _blob_array(r[1])) for r in self.conn.execute(
            "SELECT clean, adv FROM examples WHERE cell = ? ORDER BY idx", (cell_pk,))]

    def samples(self, cell_pk: int) -> list[sqlite3.Row]:
        return list(self.conn.execute("SELECT * FROM samples WHERE cell = ? ORDER BY idx",
                                      (cell_pk,)))

    def samples_of_run(self, run_id: int, *, targeted: bool = False,
                       limit: int | None = None) -> dict[int, list[sqlite3.Row]]:
        """Cell primary key -> its per-sample rows (``targeted``: only samples with a target and
        an adversarial prediction; ``limit``: the first samples of each cell)."""
        where = " AND s.target IS NOT NULL AND s.adv_pred IS NOT NULL" if targeted else ""
        where += "" if limit is None else f" AND s.idx < {int(limit)}"
        out: dict[int, list[sqlite3.Row]] = {}
        for r in self.conn.execute(
                "SELECT s.* FROM samples s JOIN cells c ON c.id = s.cell WHERE c.run_id = ?"
                + where + " ORDER BY s.cell, s.idx", (run_id,)):
            out.setdefault(r["cell"], []).append(r)
        return out

    def largest_class(self, run_id: int) -> int | None:
        """The largest class index any sample of the run mentions (label, prediction, target)."""
        top = self.conn.execute(
            "SELECT MAX(MAX(COALESCE(label, 0), COALESCE(clean_pred, 0), COALESCE(adv_pred, 0),"
            " COALESCE(target, 0))) FROM samples s JOIN cells c ON c.id = s.cell"
            " WHERE c.run_id = ?", (run_id,)).fetchone()[0]
        return None if top is None else int(top)

    def set_stats(self, run_id: int, stats: dict[str, Any],
                  flags: list[tuple[int, str, str, str]]) -> None:
        """Replace the run's computed statistics (name -> JSON value) and its cells' flags, in
        one transaction."""
        with self._tx() as c:
            c.execute("DELETE FROM run_stats WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM flags WHERE cell IN (SELECT id FROM cells WHERE run_id = ?)",
                      (run_id,))
            c.executemany("INSERT INTO run_stats VALUES (?, ?, ?)",
                          [(run_id, k, _dumps(v)) for k, v in stats.items()])
            c.executemany("INSERT OR REPLACE INTO flags VALUES (?, ?, ?, ?)", flags)

    def stats(self, run_id: int) -> dict[str, Any] | None:
        """The run's stored statistics; None when they were never computed (runs stored before
        schema 6)."""
        rows = list(self.conn.execute("SELECT name, value_json FROM run_stats WHERE run_id = ?",
                                      (run_id,)))
        return {r[0]: json.loads(r[1]) for r in rows} if rows else None
