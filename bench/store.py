"""The result store: one SQLite file. Every cell is written in its own transaction, so an
interrupted run keeps every cell that finished."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from bench.errors import StoreError
from bench.timing import now_iso

STORE_ENV = "ARTBENCH_STORE"
SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    suite_name TEXT NOT NULL,
    suite_path TEXT,
    suite_json TEXT NOT NULL,
    status TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    seed INTEGER,
    git_commit TEXT,
    machine_json TEXT,
    versions_json TEXT,
    plugins_json TEXT,
    cells_total INTEGER,
    class_names_json TEXT
);
CREATE TABLE IF NOT EXISTS rows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    row_id TEXT NOT NULL,
    model_id TEXT NOT NULL,
    defense_id TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    clean_accuracy REAL,
    balanced_accuracy REAL,
    eval_samples INTEGER,
    train_seconds REAL,
    training_json TEXT,
    diagnostics_json TEXT,
    UNIQUE (run_id, row_id)
);
CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    cell_id TEXT NOT NULL,
    row_id TEXT NOT NULL,
    model_id TEXT NOT NULL,
    defense_id TEXT NOT NULL,
    attack_id TEXT NOT NULL,
    attack_name TEXT NOT NULL,
    plugins_json TEXT NOT NULL,
    params_json TEXT NOT NULL,
    samples INTEGER,
    status TEXT NOT NULL,
    error TEXT,
    info_json TEXT,
    finished TEXT NOT NULL,
    source_row TEXT,
    UNIQUE (run_id, cell_id)
);
CREATE TABLE IF NOT EXISTS metrics (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (cell, name)
);
CREATE TABLE IF NOT EXISTS timings (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    phase TEXT NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (cell, phase)
);
CREATE TABLE IF NOT EXISTS flags (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (cell, name)
);
CREATE TABLE IF NOT EXISTS samples (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    label INTEGER, clean_pred INTEGER, adv_pred INTEGER, target INTEGER,
    success INTEGER, l0 REAL, l2 REAL, linf REAL, confidence REAL, clean_confidence REAL,
    PRIMARY KEY (cell, idx)
);
CREATE TABLE IF NOT EXISTS examples (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    clean BLOB NOT NULL,
    adv BLOB NOT NULL,
    PRIMARY KEY (cell, idx)
);
"""


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


class Store:
    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA journal_mode = WAL")
            with self.conn:
                self.conn.executescript(SCHEMA)
                self._migrate()
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable result store ({exc})") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open result store ({exc.strerror})") from None

    def _migrate(self) -> None:
        """Add the columns that later schema versions added to stores made by earlier ones
        (version 2: diagnostics, transfer source; version 3: class names, clean confidence;
        new tables come from the schema script itself)."""
        for table, column, kind in (("rows", "diagnostics_json", "TEXT"),
                                    ("cells", "source_row", "TEXT"),
                                    ("runs", "class_names_json", "TEXT"),
                                    ("samples", "clean_confidence", "REAL")):
            names = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            if column not in names:
                self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            with self.conn:
                yield self.conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: write failed ({exc})") from None

    # ---- writing ------------------------------------------------------------------------

    def create_run(self, suite_name: str, suite_path: str | None, suite: dict[str, Any],
                   seed: int, git_commit: str | None, machine: dict[str, Any],
                   versions: dict[str, Any], plugins: list[dict[str, Any]],
                   cells_total: int, class_names: list[str] | None = None) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO runs (suite_name, suite_path, suite_json, status, started, seed,"
                " git_commit, machine_json, versions_json, plugins_json, cells_total,"
                " class_names_json) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (suite_name, suite_path, _dumps(suite), now_iso(), seed, git_commit,
                 _dumps(machine), _dumps(versions), _dumps(plugins), cells_total,
                 None if class_names is None else _dumps(list(class_names))),
            )
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?",
                      (status, now_iso(), run_id))

    def add_row(self, run_id: int, row: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO rows (run_id, row_id, model_id, defense_id, status, error,"
                " clean_accuracy, balanced_accuracy, eval_samples, train_seconds, training_json,"
                " diagnostics_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        images (clean, adversarial: the first samples of the cell) atomically."""
        numeric = {k: v for k, v in metrics.items()
                   if v is None or isinstance(v, int | float) and not isinstance(v, bool)}
        info = {k: v for k, v in metrics.items() if k not in numeric}
        info.update(cell.get("info", {}))
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO cells (run_id, cell_id, row_id, model_id, defense_id, attack_id,"
                " attack_name, plugins_json, params_json, samples, status, error, info_json,"
                " finished, source_row) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, cell["cell_id"], cell["row_id"], cell["model_id"], cell["defense_id"],
                 cell["attack_id"], cell["attack_name"], _dumps(cell["plugins"]),
                 _dumps(cell["params"]), cell.get("samples"), cell["status"],
                 cell.get("error"), _dumps(info), now_iso(), cell.get("source_row")),
            )
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

    def list_runs(self) -> list[sqlite3.Row]:
        return list(self.conn.execute(
            "SELECT r.*, (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.id) AS cells_done,"
            " (SELECT COUNT(*) FROM cells c WHERE c.run_id = r.id AND c.status != 'ok')"
            " AS cells_failed FROM runs r ORDER BY r.id"
        ))

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

    def run(self, run_id: int) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no run {run_id}")
        return row

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
