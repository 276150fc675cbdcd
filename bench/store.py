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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import platformdirs

from bench.errors import StoreError
from bench.timing import now_iso

STORE_ENV = "ARTBENCH_STORE"
SCHEMA_VERSION = 6
#: ``PRAGMA application_id`` of an artbench store: "ARTB"
APPLICATION_ID = 0x41525442
SQLITE_MAGIC = b"SQLite format 3\x00"
#: run statuses of a run that ended normally
FINISHED = ("finished", "finished-with-failures")

#: columns that later schema versions added to existing tables: (version, table, column, type)
ADDED_COLUMNS = (
    (2, "rows", "diagnostics_json", "TEXT"),
    (2, "cells", "source_row", "TEXT"),
    (3, "runs", "class_names_json", "TEXT"),
    (3, "samples", "clean_confidence", "REAL"),
    # the process that drives the run (to tell a live run from a dead one) and its plan
    (4, "runs", "driver_pid", "INTEGER"),
    (4, "runs", "driver_host", "TEXT"),
    (4, "runs", "driver_start", "INTEGER"),
    (4, "runs", "planned_json", "TEXT"),
    # "i/N" for a run of ``bench run --shard i/N`` (its plan is that shard's cells), else NULL
    (5, "runs", "shard", "TEXT"),
    # [low, high] of the evaluation data (flags judge an eps against its width)
    (6, "runs", "data_range_json", "TEXT"),
)

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
    class_names_json TEXT,
    driver_pid INTEGER,
    driver_host TEXT,
    driver_start INTEGER,
    planned_json TEXT,
    shard TEXT,
    data_range_json TEXT
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
CREATE TABLE IF NOT EXISTS run_stats (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
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


def _tables(script: str) -> dict[str, str]:
    """Table name -> its CREATE statement, from the schema script."""
    out = {}
    for stmt in script.split(";"):
        stmt = stmt.strip()
        if stmt:
            out[stmt.split("EXISTS", 1)[1].split("(", 1)[0].strip()] = stmt
    return out


TABLES = _tables(SCHEMA)


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


class Store:
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

    # ---- opening ------------------------------------------------------------------------

    def _damaged(self, exc: sqlite3.DatabaseError) -> str:
        return f"{self.path}: damaged result store ({exc})"

    def _header(self) -> bytes | None:
        """The first 100 bytes of the file (SQLite's header), None when there is no file."""
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a directory, not a result store")
        try:
            with open(self.path, "rb") as f:
                return f.read(100)
        except FileNotFoundError:
            return None

    def _refuse_non_sqlite(self, header: bytes) -> None:
        if not header.startswith(SQLITE_MAGIC):
            raise StoreError(f"{self.path}: not an artbench result store (not an SQLite "
                             "database); left unchanged")

    def _uri(self, **query: str) -> str:
        return (f"file:{quote(str(self.path.resolve()))}?"
                + "&".join(f"{k}={v}" for k, v in query.items()))

    def _connect_ro(self, header: bytes) -> sqlite3.Connection:
        """A read-only connection that creates no file. A WAL store whose log is absent is all
        in its main file: read it as immutable (``mode=ro`` would create ``-wal`` and ``-shm``
        files). With a log present (a live or killed writer) ``mode=ro`` reads it; where its
        ``-shm`` cannot be created (read-only directory) fall back to immutable, without it."""
        wal_mode = len(header) > 18 and header[18] == 2
        has_log = Path(f"{self.path}-wal").exists()
        if wal_mode and not has_log:
            return sqlite3.connect(self._uri(immutable="1"), uri=True)
        conn = sqlite3.connect(self._uri(mode="ro"), uri=True, timeout=30)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if not has_log:
                raise
        self.warning = (f"{self.path}: its write-ahead log cannot be read here (read-only "
                        "directory?): the latest cells may be missing")
        return sqlite3.connect(self._uri(immutable="1"), uri=True)

    def _identify(self, conn: sqlite3.Connection) -> int:
        """The schema version of an artbench store; a StoreError for any other database."""
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = None
        if {"meta", "runs", "cells"} <= tables:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            runs = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
            cells = {r[1] for r in conn.execute("PRAGMA table_info(cells)")}
            if row is not None and "suite_json" in runs and "cell_id" in cells:
                version = row[0]
        if app != APPLICATION_ID and (app != 0 or version is None):
            raise StoreError(f"{self.path}: not an artbench result store (an SQLite database "
                             "of another application); left unchanged")
        try:
            number = int(version)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise StoreError(f"{self.path}: damaged result store (no valid schema version)"
                             ) from None
        if number > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: result store of schema version {number}, newer "
                             f"than this artbench reads ({SCHEMA_VERSION}); upgrade artbench")
        return number

    def _open_readonly(self) -> sqlite3.Connection:
        header = self._header()
        if header is None:
            raise StoreError(f"{self.path}: no result store here (bench run creates one)")
        if not header:
            raise StoreError(f"{self.path}: empty file, no result store yet (bench run "
                             "creates one)")
        self._refuse_non_sqlite(header)
        conn = self._connect_ro(header)
        try:
            if self._identify(conn) < SCHEMA_VERSION:
                self._compat_views(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _compat_views(conn: sqlite3.Connection) -> None:
        """Read an older schema as the current one, without touching the file: temporary
        (in-memory) views add the missing columns as NULL, temporary tables stand in for
        missing tables. Unqualified names find the temporary schema first."""
        conn.execute("PRAGMA temp_store = MEMORY")
        present = {r[0] for r in conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table'")}
        for table, create in TABLES.items():
            if table not in present:
                conn.execute(create.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE"))
                continue
            have = {r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")}
            extra = [c for _, t, c, _ in ADDED_COLUMNS if t == table and c not in have]
            if extra:
                cols = "".join(f", NULL AS {c}" for c in extra)
                conn.execute(f"CREATE TEMP VIEW {table} AS SELECT *{cols} FROM main.{table}")

    def _open_for_writing(self) -> sqlite3.Connection:
        header = self._header()
        current = False
        if header:  # an existing file: only an artbench store is ever written to
            self._refuse_non_sqlite(header)
            probe = self._connect_ro(header)
            try:
                current = (self._identify(probe) == SCHEMA_VERSION and probe.execute(
                    "PRAGMA application_id").fetchone()[0] == APPLICATION_ID)
            finally:
                probe.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if current:  # nothing to create or migrate: a run that fails early changes nothing
                return conn
            conn.execute("PRAGMA journal_mode = WAL")
            with conn:
                conn.executescript(SCHEMA)
                self._migrate(conn)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                             (SCHEMA_VERSION,))
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Add the columns that later schema versions added to stores made by earlier ones
        (new tables come from the schema script itself)."""
        for _, table, column, kind in ADDED_COLUMNS:
            names = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if column not in names:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

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
        numeric = {k: v for k, v in metrics.items()
                   if v is None or isinstance(v, int | float) and not isinstance(v, bool)}
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
