"""``bench run --shard i/N`` in two real processes, then ``bench merge``: the merged run holds
the cells (ids, order, statuses, metrics), rows and flags of one unsharded run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.test_resume import TINY, bench

#: two rows (none, distillation) x three FGSM cells, transfer from the undefended row: 9 cells;
#: shard 0/2 holds none/eps 0.1 and 0.3 with their transfer cells, shard 1/2 the other five
GRID = ["--set", "defenses=[{name: none}, {name: distillation, params: {temperature: 10}}]",
        "--set", "attacks=[{name: fgsm, params: {eps: [0.1, 0.2, 0.3]}}]",
        "--set", "transfer=[{source: {defense: none}}]",
        "--set", "evaluation.samples=20"]


def contents(path: Path, run: int) -> dict:
    db = sqlite3.connect(path)
    cells = []
    for pk, cell_id, status in db.execute(
            "SELECT id, cell_id, status FROM cells WHERE run_id = ? ORDER BY id", (run,)):
        metrics = dict(db.execute("SELECT name, value FROM metrics WHERE cell = ?", (pk,)))
        flags = sorted(db.execute("SELECT name, status FROM flags WHERE cell = ?", (pk,)))
        samples = db.execute("SELECT COUNT(*) FROM samples WHERE cell = ?", (pk,)).fetchone()[0]
        cells.append((cell_id, status, metrics, flags, samples))
    rows = db.execute("SELECT row_id, status, clean_accuracy FROM rows WHERE run_id = ?"
                      " ORDER BY id", (run,)).fetchall()
    status, planned, shard = db.execute(
        "SELECT status, planned_json, shard FROM runs WHERE id = ?", (run,)).fetchone()
    db.close()
    return {"cells": cells, "rows": rows, "status": status, "planned": json.loads(planned),
            "shard": shard}


def test_two_shards_merge_to_the_unsharded_run(tmp_path):
    cache = tmp_path / "cache"
    ref = tmp_path / "ref.sqlite"
    res = bench("run", TINY, "--quiet", *GRID, store=ref, cache=cache)
    assert res.returncode == 0, res.stderr
    expected = contents(ref, 1)
    assert len(expected["cells"]) == 9

    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    for shard, store in (("0/2", a), ("1/2", b)):
        res = bench("run", TINY, "--quiet", "--shard", shard, *GRID, store=store, cache=cache)
        assert res.returncode == 0, res.stderr
    parts = contents(a, 1), contents(b, 1)
    assert [p["shard"] for p in parts] == ["0/2", "1/2"]
    assert [len(p["cells"]) for p in parts] == [4, 5]
    assert not {c[0] for c in parts[0]["cells"]} & {c[0] for c in parts[1]["cells"]}

    out = tmp_path / "out.sqlite"
    res = bench("merge", str(out), str(a), str(b), store=ref, cache=cache)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout.strip() == (f"merged 2 shards (9 cells, 0 duplicates ignored) into run 1 "
                                  f"of {out}")
    got = contents(out, 1)
    assert got == {**expected, "shard": None}  # cells in plan order, metrics, flags, rows

    runs = bench("runs", "--store", str(a), store=ref, cache=cache)
    assert "tiny [shard 0/2]" in runs.stdout, runs.stdout
