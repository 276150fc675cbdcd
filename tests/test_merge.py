"""``bench merge``: shard runs built through the Store API merge into the run an unsharded
run stores (cells, rows, metrics, timings, samples, examples, flags, order), duplicates are
ignored, a missing shard leaves the merged run interrupted, anything else is refused."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.errors import ConfigError, StoreError
from bench.grid import transfer_id
from bench.merge import GridOrder, _rank, merge, split_spec
from bench.results.model import load_report
from bench.results.stats import update_stats
from bench.results.store import Store
from bench.shard import in_shard

MODELS = ["cnn", "mlp"]
DEFENSES = ["none", "distillation[temperature=10]"]
ATTACKS = ["fgsm[eps=0.1]", "fgsm[eps=0.2]", "fgsm[eps=0.3]", "bim[eps=0.1]", "bim[eps=0.2]"]
SUITE = {"name": "grid", "evaluation": {"samples": 3, "seed": 0}, "attacks": ATTACKS}


def _unit(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:2], "big") / 65535


def plan() -> list[dict[str, Any]]:
    """The grid in plan order: model, defense, attack; each white-box cell of the undefended
    row followed by its transfer cell to the distilled row."""
    out = []
    for m, d, a in itertools.product(MODELS, DEFENSES, ATTACKS):
        row = f"model={m}/defense={d}"
        name, eps = a.split("[eps=")
        base = {"row_id": row, "model_id": m, "defense_id": d, "attack_id": a,
                "attack_name": name, "samples": 3, "status": "ok", "plugins": {"attack": name},
                "params": {"attack": {"eps": float(eps.rstrip("]"))}}}
        out.append({**base, "cell_id": f"{row}/attack={a}"})
        if d == "none":
            target = f"model={m}/defense={DEFENSES[1]}"
            out.append({**base, "cell_id": transfer_id(target, a, row), "row_id": target,
                        "defense_id": DEFENSES[1], "source_row": row})
    return out


def row_record(row_id: str, status: str = "ok") -> dict[str, Any]:
    m, d = row_id.removeprefix("model=").split("/defense=")
    return {"row_id": row_id, "model_id": m, "defense_id": d, "status": status,
            "error": None if status == "ok" else "boom", "clean_accuracy": _unit(row_id),
            "eval_samples": 3, "train_seconds": 1.5, "training": [{"cached": False}],
            "diagnostics": {"grad_zero_fraction": 0.01, "samples": 3,
                            "softmax_saturated_fraction": 0.5 if d == "none" else 0.9}}


def write_cell(store: Store, run: int, cell: dict[str, Any], status: str = "ok") -> None:
    u = _unit(cell["cell_id"])
    per = {"y": np.array([1, 2, 3]), "clean_pred": np.array([1, 2, 0]),
           "adv_pred": np.array([0, 2, 1]), "success": np.array([True, False, True]),
           "l2": np.array([u, 0.0, 2 * u]), "linf": np.array([0.1, 0.0, 0.1]),
           "adv_confidence": np.array([0.9, 0.8, u]), "clean_confidence": np.array([1, u, 1.0])}
    clean = np.full((2, 2, 2, 1), u, dtype=np.float32)
    cell = {**cell, "status": status, "error": None if status == "ok" else "RuntimeError: x"}
    metrics = {"success_rate": u, "samples": 3, "l2_mean": u / 2} if status == "ok" else {}
    store.add_cell(run, cell, metrics, {"generate": u + 1, "evaluate": 0.25},
                   per if status == "ok" else None,
                   (clean, clean + 0.1) if status == "ok" else None)


def write_run(path: Path, cells: list[dict[str, Any]], *, shard: str | None = None,
              status: str | None = "finished", failed: frozenset[str] = frozenset(),
              tag: str = "0", suite: dict[str, Any] | None = None,
              skip: frozenset[str] = frozenset(), name: str = "grid") -> int:
    """A run of ``cells`` (planned; those in ``skip`` are not stored, those in ``failed``
    are stored failed), with their rows, flagged and finished with ``status``."""
    store = Store(path)
    ids = [c["cell_id"] for c in cells]
    run = store.create_run(name, f"{tag}.yaml", suite or SUITE, 0, f"commit{tag}",
                           {"host": f"m{tag}"}, {"numpy": tag}, [{"name": "builtin"}],
                           len(ids), ["a", "b", "c", "d"], cell_ids=ids, shard=shard)
    for row in dict.fromkeys(c["row_id"] for c in cells):
        store.add_row(run, row_record(row))
    for c in cells:
        if c["cell_id"] not in skip:
            write_cell(store, run, c, "failed" if c["cell_id"] in failed else "ok")
    update_stats(store, run)
    if status is not None:
        store.finish_run(run, status)
    store.close()
    return run


def shard_cells(index: int, count: int) -> list[dict[str, Any]]:
    """The cells of one shard: white-box cells by hash, each with its transfer cells."""
    out, keep = [], False
    for c in plan():
        if "source_row" not in c:
            keep = in_shard(c["cell_id"], index, count)
        if keep:
            out.append(c)
    return out


def write_shards(tmp: Path, count: int = 3, **kw: Any) -> list[Path]:
    paths = []
    for k in range(count):
        paths.append(tmp / f"s{k}.sqlite")
        write_run(paths[-1], shard_cells(k, count), shard=f"{k}/{count}", tag=str(k), **kw)
    return paths


def dump(path: Path, run: int) -> dict[str, Any]:
    """Everything a run holds, in stored order, without primary keys and timestamps."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    cells = []
    for c in db.execute("SELECT * FROM cells WHERE run_id = ? ORDER BY id", (run,)):
        pk = c["id"]
        cells.append({
            **{k: c[k] for k in c.keys() if k not in ("id", "run_id", "finished")},
            **{t: [tuple(r)[1:] for r in db.execute(f"SELECT * FROM {t} WHERE cell = ? "
                                                    "ORDER BY 2", (pk,))]
               for t in ("metrics", "timings", "samples", "examples", "flags")}})
    rows = [{k: r[k] for k in r.keys() if k not in ("id", "run_id")}
            for r in db.execute("SELECT * FROM rows WHERE run_id = ? ORDER BY id", (run,))]
    r = db.execute("SELECT * FROM runs WHERE id = ?", (run,)).fetchone()
    db.close()
    return {"cells": cells, "rows": rows, "planned": json.loads(r["planned_json"]),
            "cells_total": r["cells_total"], "status": r["status"], "shard": r["shard"]}


def test_merged_shards_equal_the_unsharded_run(tmp_path):
    ref = tmp_path / "ref.sqlite"
    write_run(ref, plan())
    shards = write_shards(tmp_path)
    assert all(shard_cells(k, 3) for k in range(3))  # every shard holds cells
    out = tmp_path / "out.sqlite"
    result = merge(out, [str(p) for p in shards])
    expected = dump(ref, 1)
    got = dump(out, result.run_id)
    assert got["planned"] == expected["planned"]  # the plan order of the unsharded grid
    assert [c["cell_id"] for c in got["cells"]] == [c["cell_id"] for c in expected["cells"]]
    assert got["rows"] == expected["rows"]
    assert got["cells"] == expected["cells"]  # metrics, timings, samples, examples, flags
    assert any(c["flags"] for c in got["cells"])  # flags were computed on the merged run
    assert (got["status"], got["shard"], got["cells_total"]) == ("finished", None, 30)
    assert result.summary == f"merged 3 shards (30 cells, 0 duplicates ignored) into run 1 of {out}"
    assert result.warnings == []
    report = load_report(Store(out, readonly=True), None)
    assert not report.incomplete
    # the report reads the example images back: the same bytes as the shard's
    assert report.matrix() == load_report(Store(ref, readonly=True), None).matrix()


def test_provenance_is_the_first_inputs_and_times_span_the_shards(tmp_path, monkeypatch):
    times = iter(f"2024-01-01T00:00:{s:02d}+00:00" for s in range(60))
    monkeypatch.setattr("bench.results.store.now_iso", lambda: next(times))
    a = tmp_path / "a.sqlite"
    b = tmp_path / "b.sqlite"
    write_run(b, shard_cells(1, 2), shard="1/2", tag="b")  # made first: the earliest start
    write_run(a, shard_cells(0, 2), shard="0/2", tag="a")  # finished last
    merge(tmp_path / "out.sqlite", [str(a), str(b)])
    db = sqlite3.connect(tmp_path / "out.sqlite")
    db.row_factory = sqlite3.Row
    run = db.execute("SELECT * FROM runs").fetchone()
    src = sqlite3.connect(a)
    src.row_factory = sqlite3.Row
    first = src.execute("SELECT * FROM runs").fetchone()
    sb = sqlite3.connect(b).execute("SELECT started FROM runs").fetchone()[0]
    for key in ("suite_name", "suite_path", "suite_json", "seed", "git_commit", "machine_json",
                "versions_json", "plugins_json", "class_names_json"):
        assert run[key] == first[key], key
    assert run["started"] == sb < first["started"]
    assert run["finished"] == first["finished"]
    assert run["driver_pid"] is None and run["shard"] is None
    # each cell keeps the time it was stored at
    kept = dict(db.execute("SELECT cell_id, finished FROM cells"))
    for shard in (a, b):
        for cid, when in sqlite3.connect(shard).execute("SELECT cell_id, finished FROM cells"):
            assert kept[cid] == when


def test_duplicate_cells_keep_the_ok_copy_and_are_counted(tmp_path):
    cells0 = shard_cells(0, 2)
    wb = [c["cell_id"] for c in cells0 if "source_row" not in c]
    # shard 0 first with one failed cell, then again (re-run) all ok; shard 1 once
    a = tmp_path / "a.sqlite"
    write_run(a, cells0, shard="0/2", failed=frozenset(wb[:1]),
              status="finished-with-failures")
    again = tmp_path / "again.sqlite"
    write_run(again, cells0, shard="0/2")
    b = tmp_path / "b.sqlite"
    write_run(b, shard_cells(1, 2), shard="1/2")
    out = tmp_path / "out.sqlite"
    result = merge(out, [str(a), str(b), str(again)])
    assert result.duplicates == len(cells0)
    assert result.summary == (f"merged 2 shards ({len(plan())} cells, {len(cells0)} duplicates "
                              f"ignored) into run 1 of {out}")
    db = sqlite3.connect(out)
    statuses = dict(db.execute("SELECT cell_id, status FROM cells"))
    assert len(statuses) == len(plan()) and set(statuses.values()) == {"ok"}
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "finished"
    # every row once
    rows = [r for (r,) in db.execute("SELECT row_id FROM rows")]
    assert sorted(rows) == sorted({c["row_id"] for c in plan()})
    # the failed copy is used when it is the only one: finished-with-failures
    out2 = tmp_path / "out2.sqlite"
    result = merge(out2, [str(a), str(b)])
    assert (result.status, result.duplicates) == ("finished-with-failures", 0)
    assert sqlite3.connect(out2).execute(
        "SELECT status, error FROM cells WHERE cell_id = ?", (wb[0],)).fetchone() == (
        "failed", "RuntimeError: x")


def test_rows_prefer_the_ok_copy(tmp_path):
    a = tmp_path / "a.sqlite"
    write_run(a, shard_cells(0, 2), shard="0/2")
    db = sqlite3.connect(a)
    db.execute("UPDATE rows SET status = 'failed', error = 'boom', clean_accuracy = NULL")
    db.commit()
    db.close()
    b = tmp_path / "b.sqlite"
    write_run(b, shard_cells(1, 2), shard="1/2")
    merge(tmp_path / "out.sqlite", [str(a), str(b)])
    rows = sqlite3.connect(tmp_path / "out.sqlite").execute(
        "SELECT row_id, status, clean_accuracy FROM rows").fetchall()
    shared = {c["row_id"] for c in shard_cells(0, 2)} & {c["row_id"] for c in shard_cells(1, 2)}
    assert shared  # the test means something: some rows are in both shards
    for row_id, status, acc in rows:
        if row_id in shared:
            assert (status, acc) == ("ok", pytest.approx(_unit(row_id)))


def test_a_missing_shard_leaves_the_merged_run_interrupted(tmp_path):
    s0, _, s2 = write_shards(tmp_path)
    out = tmp_path / "out.sqlite"
    result = merge(out, [str(s0), str(s2)])
    present = shard_cells(0, 3) + shard_cells(2, 3)
    assert result.status == "interrupted"
    assert result.warnings == ["shard 1/3 missing: its cells are not in the merged run"]
    assert result.summary == (f"merged 2 of 3 shards ({len(present)} cells, 0 duplicates "
                              f"ignored) into run 1 of {out}: interrupted")
    got = dump(out, 1)
    assert sorted(got["planned"]) == sorted(c["cell_id"] for c in present)
    assert got["cells_total"] == len(present) and got["status"] == "interrupted"


def test_an_interrupted_shard_is_named(tmp_path):
    a = tmp_path / "a.sqlite"
    cells1 = shard_cells(1, 2)
    write_run(tmp_path / "b.sqlite", shard_cells(0, 2), shard="0/2")
    write_run(a, cells1, shard="1/2", status="interrupted",
              skip=frozenset(c["cell_id"] for c in cells1[-2:]))
    result = merge(tmp_path / "out.sqlite", [str(tmp_path / "b.sqlite"), str(a)])
    assert result.status == "interrupted"
    assert result.warnings == [f"shard 1/2 incomplete ({a} run 1: interrupted): 2 of its "
                               f"{len(cells1)} cells are not in the merged run"]
    report = load_report(Store(tmp_path / "out.sqlite", readonly=True), None)
    assert report.missing_cells() == [c["cell_id"] for c in cells1[-2:]]


def test_an_existing_output_keeps_its_runs(tmp_path):
    out = tmp_path / "out.sqlite"
    write_run(out, plan()[:3], name="other")
    before = dump(out, 1)
    result = merge(out, [str(p) for p in write_shards(tmp_path, 2)])
    assert result.run_id == 2
    assert dump(out, 1) == before
    assert len(dump(out, 2)["cells"]) == len(plan())


def test_store_colon_run_id_picks_a_run(tmp_path):
    a = tmp_path / "a.sqlite"
    write_run(a, shard_cells(0, 2), shard="0/2")
    write_run(a, plan())  # the latest run of a.sqlite is not a shard run
    b = tmp_path / "b.sqlite"
    write_run(b, shard_cells(1, 2), shard="1/2")
    with pytest.raises(ConfigError) as exc:
        merge(tmp_path / "out.sqlite", [str(a), str(b)])
    assert str(exc.value) == (f"{a} run 2: not a shard run (made without --shard); bench merge "
                              "combines the runs of bench run --shard i/N")
    assert not (tmp_path / "out.sqlite").exists()
    for spec in (f"{a}:1", f"{a}:-2"):
        result = merge(tmp_path / f"out{spec[-1]}.sqlite", [spec, str(b)])
        assert result.status == "finished" and result.cells == len(plan())
    assert split_spec("x.sqlite") == (Path("x.sqlite"), None)
    assert split_spec("d/x.sqlite:12") == (Path("d/x.sqlite"), "12")
    (tmp_path / "odd:3").write_bytes(b"")  # a file whose name ends in :3 is a file
    assert split_spec(str(tmp_path / "odd:3")) == (tmp_path / "odd:3", None)


def _refused(tmp_path: Path, specs: list[str], message: str, exc_type: type = ConfigError,
             out: Path | None = None) -> None:
    out = out or tmp_path / "out.sqlite"
    before = out.read_bytes() if out.exists() else None
    with pytest.raises(exc_type) as exc:
        merge(out, specs)
    assert str(exc.value) == message
    assert (out.read_bytes() if out.exists() else None) == before


def test_refusals_name_the_input_and_what_differs(tmp_path):
    a = tmp_path / "a.sqlite"
    write_run(a, shard_cells(0, 2), shard="0/2")
    other = tmp_path / "other.sqlite"
    write_run(other, shard_cells(1, 2), shard="1/2", name="elsewhere")
    _refused(tmp_path, [str(a), str(other)],
             f"{other} run 1: suite 'elsewhere', but {a} run 1 is suite 'grid'")
    config = tmp_path / "config.sqlite"
    write_run(config, shard_cells(1, 2), shard="1/2",
              suite={**SUITE, "evaluation": {"samples": 5, "seed": 0}, "seed": 3})
    _refused(tmp_path, [str(a), str(config)],
             f"{config} run 1: made with another configuration than {a} run 1 (suite fields "
             "that differ: evaluation, seed)")
    # execution-only fields do not make shards differ (one shard may run with --cell-timeout)
    timed = tmp_path / "timed.sqlite"
    write_run(timed, shard_cells(1, 2), shard="1/2",
              suite={**SUITE, "evaluation": {**SUITE["evaluation"], "cell_timeout": 60.0}})
    assert merge(tmp_path / "timed-out.sqlite", [str(a), str(timed)]).status == "finished"
    three = tmp_path / "three.sqlite"
    write_run(three, shard_cells(1, 3), shard="1/3")
    _refused(tmp_path, [str(a), str(three)],
             f"{three} run 1: shard 1/3, but {a} run 1 is shard 0/2 (the shard counts differ)")
    plain = tmp_path / "plain.sqlite"
    write_run(plain, plan())
    _refused(tmp_path, [str(a), str(plain)],
             f"{plain} run 1: not a shard run (made without --shard); bench merge combines "
             "the runs of bench run --shard i/N")
    _refused(tmp_path, [str(a), str(a.parent / "." / a.name)],
             f"{a}: the output of bench merge cannot also be one of its inputs "
             f"({a.parent / '.' / a.name})", out=a)
    damaged = tmp_path / "damaged.sqlite"
    write_run(damaged, shard_cells(1, 2), shard="1/2")
    db = sqlite3.connect(damaged)
    db.execute("UPDATE runs SET shard = '1 of 2'")
    db.commit()
    db.close()
    _refused(tmp_path, [str(a), str(damaged)],
             f"{damaged} run 1: damaged shard record '1 of 2'", StoreError)
    _refused(tmp_path, [str(a), str(tmp_path / "typo.sqlite")],
             f"{tmp_path / 'typo.sqlite'}: no result store here (bench run creates one)",
             StoreError)
    _refused(tmp_path, [f"{a}:4"], f"{a}: no run 4 (runs: 1..1)", StoreError)
    # an existing output is left byte-identical by a refusal
    write_run(tmp_path / "out.sqlite", plan()[:2])
    _refused(tmp_path, [str(a), str(other)],
             f"{other} run 1: suite 'elsewhere', but {a} run 1 is suite 'grid'")


@pytest.mark.parametrize("existing", [False, True])
def test_a_failure_while_writing_leaves_the_output_as_it_was(tmp_path, monkeypatch, existing):
    shards = write_shards(tmp_path, 2)
    out = tmp_path / "out.sqlite"
    if existing:
        write_run(out, plan()[:3], name="other")
        before = dump(out, 1)

    def boom(store, run_id, plugins=None):
        raise RuntimeError("flags failed")

    monkeypatch.setattr("bench.results.stats.update_stats", boom)
    with pytest.raises(RuntimeError, match="flags failed"):
        merge(out, [str(p) for p in shards])
    if existing:
        db = sqlite3.connect(out)
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 3
        db.close()
        assert dump(out, 1) == before
    else:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s0.sqlite", "s1.sqlite"]


def test_grid_order_from_shard_orders():
    full = ["a", "b", "c", "d", "e"]
    assert list(_rank([["a", "c", "e"], ["b", "d"], ["a", "b"], ["c", "d"], ["b", "c"],
                       ["d", "e"]])) == full
    # what no sequence decides goes by first appearance, every constraint kept
    assert list(_rank([["c", "e"], ["a", "b", "d"], ["b", "c"]])) == ["a", "b", "c", "e", "d"]
    # contradictory sequences still give every item once
    assert sorted(_rank([["a", "b"], ["b", "a"], ["c"]])) == ["a", "b", "c"]
    ids = [c["cell_id"] for c in plan()]
    shuffled = [[i for i in ids if hash_of(i) % 4 == k] for k in range(4)]
    assert sorted(ids, key=GridOrder(shuffled).cell) == ids


def hash_of(cell_id: str) -> int:
    return int(hashlib.md5(cell_id.encode()).hexdigest(), 16)


# ---- the command line ----------------------------------------------------------------------


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("ARTBENCH_STORE", None)
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def test_bench_merge_and_bench_runs(tmp_path):
    write_run(tmp_path / "a.sqlite", shard_cells(0, 2), shard="0/2")
    res = _bench("runs", "--store", "a.sqlite", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "grid [shard 0/2]" in res.stdout
    res = _bench("merge", "out.sqlite", "a.sqlite", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    n = len(shard_cells(0, 2))
    assert res.stdout.strip() == (f"merged 1 of 2 shards ({n} cells, 0 duplicates ignored) "
                                  "into run 1 of out.sqlite: interrupted")
    assert res.stderr == "warning: shard 1/2 missing: its cells are not in the merged run\n"
    runs = _bench("runs", "--store", "out.sqlite", cwd=tmp_path)
    assert "grid " in runs.stdout and "[shard" not in runs.stdout
    assert f"{n}/{n}" in runs.stdout and "interrupted" in runs.stdout
    bad = _bench("merge", "a.sqlite", "a.sqlite", cwd=tmp_path)
    assert (bad.returncode, bad.stdout) == (4, "")
    assert bad.stderr == ("error: a.sqlite: the output of bench merge cannot also be one of "
                          "its inputs (a.sqlite)\n")
