"""How the store opens a file: only an artbench store (or nothing) is ever written to; a
reader never creates, migrates or changes a file, and reads an older schema through temporary
views. A mixin of :class:`bench.results.store.Store`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from bench.errors import StoreError
from bench.results.schema import (
    ADDED_COLUMNS,
    APPLICATION_ID,
    SCHEMA,
    SCHEMA_VERSION,
    SQLITE_MAGIC,
    TABLES,
)


class Opening:
    path: Path
    warning: str | None

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

