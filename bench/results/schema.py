"""The result store's schema: its tables, the columns later versions added, its identity.

Read by :mod:`bench.results.store` (which creates, migrates and reads through it) and by
:mod:`bench.results.store_copy` (``bench merge``).
"""

from __future__ import annotations

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


def _tables(script: str) -> dict[str, str]:
    """Table name -> its CREATE statement, from the schema script."""
    out = {}
    for stmt in script.split(";"):
        stmt = stmt.strip()
        if stmt:
            out[stmt.split("EXISTS", 1)[1].split("(", 1)[0].strip()] = stmt
    return out


TABLES = _tables(SCHEMA)
