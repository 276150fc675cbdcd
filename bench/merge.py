"""``bench merge OUT IN [IN ...]``: the shard runs of one run (``bench run --shard i/N``, one
store each) combined into one new run of ``OUT``.

Each ``IN`` is a result store, read-only: its latest run, or ``STORE:RUN_ID`` for another one
(``a.sqlite:3``, ``a.sqlite:-2``; a file whose name itself ends in ``:N`` is taken as a file).
Every input must be a shard run of the same suite, resolved configuration (execution-only
fields such as ``evaluation.cell_timeout`` aside) and shard count; anything else is refused
with one line naming the input, before ``OUT`` is touched. A run made without ``--shard`` is
refused too (it is not taken as "every cell": merge a shard run again instead).

The merged run holds every cell of the inputs once: a cell stored by two inputs (a shard given
twice, or run again) is taken from the first input that has it ``ok`` (else from the first that
has it), the other copies are counted as duplicates; rows likewise by row id. Its plan is the
union of the shards' plans; cells, rows and plan are put in the order of the unsharded grid
(recovered from the shards' orders and the cell ids). Its status is ``finished`` (or
``finished-with-failures``) when every shard is there and every planned cell is stored,
``interrupted`` otherwise, with a warning per missing or incomplete shard. Provenance (suite
file, seed, git commit, machine, versions, plugins, class names) is the first input's;
``started`` the earliest input's, ``finished`` the latest one's. Flags are computed again on
the merged run. Everything is written in one transaction: a failure leaves ``OUT`` as it was
(a new ``OUT`` is removed again; an ``OUT`` of an older schema stays migrated, as ``bench run``
leaves it).
"""

from __future__ import annotations

import heapq
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError, ConfigError, StoreError
from bench.results.store import FINISHED, Store
from bench.results.store_copy import (
    CellRef,
    RowRef,
    cell_refs,
    copy_cell,
    copy_row,
    insert_run,
    row_refs,
)
from bench.shard import parse_shard, shard_text
from bench.suite import differing_fields, result_config

_SPEC = re.compile(r"(.+):(-?[0-9]+)")
_CELL = re.compile(r"model=(.+?)/defense=(.+?)/attack=(.+?)(?:/source=([^/]+))?")


@dataclass
class ShardInput:
    """One input: a shard run, opened read-only."""

    label: str  # "a.sqlite run 1", for messages
    path: Path
    store: Store
    run: dict[str, Any]
    index: int
    count: int
    planned: list[str]
    rows: list[RowRef]
    cells: list[CellRef]


@dataclass
class MergeResult:
    run_id: int
    out: Path
    shards: int  # distinct shards present
    count: int  # N
    cells: int
    duplicates: int
    status: str
    warnings: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        shards = (f"{self.shards} shards" if self.shards == self.count
                  else f"{self.shards} of {self.count} shards")
        dup = f"{self.duplicates} duplicate{'' if self.duplicates == 1 else 's'} ignored"
        tail = "" if self.status in FINISHED else f": {self.status}"
        return (f"merged {shards} ({self.cells} cells, {dup}) into run {self.run_id} of "
                f"{self.out}{tail}")


def split_spec(text: str) -> tuple[Path, str | None]:
    """``a.sqlite`` -> (a.sqlite, None); ``a.sqlite:3`` -> (a.sqlite, "3")."""
    m = _SPEC.fullmatch(text)
    if m is None or Path(text).exists():
        return Path(text), None
    return Path(m.group(1)), m.group(2)


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def open_input(text: str) -> ShardInput:
    path, run = split_spec(text)
    store = Store(path, readonly=True)
    try:
        with store.reading():
            run_id = store.resolve_run(run)
            found = store.run(run_id)
        label = f"{path} run {run_id}"
        if found.get("shard") is None:
            raise ConfigError(f"{label}: not a shard run (made without --shard); bench merge "
                              "combines the runs of bench run --shard i/N")
        try:
            index, count = parse_shard(str(found["shard"]))
        except ConfigError:
            raise StoreError(f"{label}: damaged shard record {found['shard']!r}") from None
        cells = cell_refs(store, run_id)
        planned = json.loads(found.get("planned_json") or "null")
        if planned is None:  # no stored plan: what it holds
            planned = [c.cell_id for c in cells]
        return ShardInput(label, path, store, found, index, count, list(planned),
                          row_refs(store, run_id), cells)
    except BaseException:
        store.close()
        raise


def check_inputs(inputs: list[ShardInput]) -> None:
    """Refuse inputs that are not shards of the first input's run."""
    first = inputs[0]
    config = json.loads(first.run["suite_json"])
    for inp in inputs[1:]:
        if inp.run["suite_name"] != first.run["suite_name"]:
            raise ConfigError(f"{inp.label}: suite '{inp.run['suite_name']}', but {first.label} "
                              f"is suite '{first.run['suite_name']}'")
        other = json.loads(inp.run["suite_json"])
        if result_config(other) != result_config(config):  # a --cell-timeout may differ
            raise ConfigError(f"{inp.label}: made with another configuration than "
                              f"{first.label} (suite fields that differ: "
                              f"{', '.join(differing_fields(config, other))})")
        if inp.count != first.count:
            raise ConfigError(f"{inp.label}: shard {shard_text(inp.index, inp.count)}, but "
                              f"{first.label} is shard {shard_text(first.index, first.count)} "
                              "(the shard counts differ)")


# ---- the order of the unsharded grid -----------------------------------------------------


def _rank(sequences: Iterable[list[str]]) -> dict[str, int]:
    """Ranks of the items that agree with the order of every sequence (each a subsequence of
    one unknown order); what no sequence decides (or contradicts) goes by first appearance."""
    first: dict[str, int] = {}
    after: dict[str, set[str]] = defaultdict(set)
    before: dict[str, int] = defaultdict(int)
    for seq in sequences:
        prev = None
        for item in seq:
            first.setdefault(item, len(first))
            if prev is not None and prev != item and item not in after[prev]:
                after[prev].add(item)
                before[item] += 1
            prev = item
    ready = [(first[x], x) for x in first if before[x] == 0]
    heapq.heapify(ready)
    order: dict[str, int] = {}
    waiting = sorted(first, key=first.__getitem__)
    while len(order) < len(first):
        if not ready:  # a contradiction: take the earliest item still waiting
            x = next(x for x in waiting if x not in order)
            heapq.heappush(ready, (first[x], x))
        _, x = heapq.heappop(ready)
        if x in order:
            continue
        order[x] = len(order)
        for y in after[x]:
            before[y] -= 1
            if before[y] == 0 and y not in order:
                heapq.heappush(ready, (first[y], y))
    return order


def _position(cell_id: str) -> tuple[str, str, str, tuple[str, str] | None] | None:
    """(model, defense, attack) of the white-box cell that ``cell_id`` runs under, and the
    target row (model, defense) of a transfer cell; None for an id of another form."""
    m = _CELL.fullmatch(cell_id)
    if m is None:
        return None
    model, defense, attack, source = m.groups()
    if source is None:
        return model, defense, attack, None
    src_model, _, src_defense = source.partition("|")
    return src_model, src_defense, attack, (model, defense)


class GridOrder:
    """Sort keys that put cells and rows in the order of the unsharded plan: model-major, then
    defense, then attack, each transfer cell after its white-box source cell."""

    def __init__(self, plans: list[list[str]]) -> None:
        self.first: dict[str, int] = {}
        positions = []
        for plan in plans:
            for cid in plan:
                self.first.setdefault(cid, len(self.first))
            positions.append([p for p in map(_position, plan) if p is not None])
        self.models = _rank([p[0] for p in pos] for pos in positions)
        self.defenses = _rank([p[1] for p in pos if p[0] == m]
                              for pos in positions for m in dict.fromkeys(p[0] for p in pos))
        self.attacks = _rank([p[2] for p in pos if p[:2] == row]
                             for pos in positions for row in dict.fromkeys(p[:2] for p in pos))

    def row(self, model: str, defense: str) -> tuple[int, int]:
        return (self.models.get(model, len(self.models)),
                self.defenses.get(defense, len(self.defenses)))

    def cell(self, cell_id: str) -> tuple[int, ...]:
        pos = _position(cell_id)
        if pos is None:
            return (1, self.first.get(cell_id, len(self.first)))
        model, defense, attack, target = pos
        return (0, *self.row(model, defense), self.attacks.get(attack, len(self.attacks)),
                0 if target is None else 1, *(self.row(*target) if target else (0, 0)))


# ---- the merge ----------------------------------------------------------------------------


def _pick(inputs: list[ShardInput], refs: str, key: str) -> dict[str, tuple[ShardInput, Any]]:
    """Id -> (input, record): the first ``ok`` copy, else the first copy."""
    chosen: dict[str, tuple[ShardInput, Any]] = {}
    for inp in inputs:
        for ref in getattr(inp, refs):
            have = chosen.get(getattr(ref, key))
            if have is None or (have[1].status != "ok" and ref.status == "ok"):
                chosen[getattr(ref, key)] = (inp, ref)
    return chosen


def _warnings(inputs: list[ShardInput], stored: set[str]) -> list[str]:
    count = inputs[0].count
    out = []
    for index in range(count):
        mine = [inp for inp in inputs if inp.index == index]
        if not mine:
            out.append(f"shard {shard_text(index, count)} missing: its cells are not in the "
                       "merged run")
            continue
        planned = {cid for inp in mine for cid in inp.planned}
        lost = len(planned - stored)
        if lost:
            states = ", ".join(f"{inp.label}: {inp.run['status']}" for inp in mine)
            out.append(f"shard {shard_text(index, count)} incomplete ({states}): {lost} of its "
                       f"{len(planned)} cells are not in the merged run")
    return out


def merge(out_path: str | Path, specs: list[str]) -> MergeResult:
    """Merge the shard runs named by ``specs`` into a new run of ``out_path``."""
    out_path = Path(out_path)
    for text in specs:
        path, _ = split_spec(text)
        if _same_file(path, out_path):
            raise ConfigError(f"{out_path}: the output of bench merge cannot also be one of "
                              f"its inputs ({text})")
    inputs: list[ShardInput] = []
    try:
        for text in specs:
            inputs.append(open_input(text))
        check_inputs(inputs)
        return _write(out_path, inputs)
    finally:
        for inp in inputs:
            inp.store.close()


def _registered() -> Any:
    """The installed plugins (traits of cells stored before traits were), or None."""
    from bench.pluginmanager import load_plugins

    try:
        return load_plugins()
    except BenchError:
        return None


def _write(out_path: Path, inputs: list[ShardInput]) -> MergeResult:
    first = inputs[0]
    warnings = [f"{inp.store.warning}" for inp in inputs if inp.store.warning]
    order = GridOrder([seq for inp in inputs for seq in (inp.planned,
                                                         [c.cell_id for c in inp.cells])])
    cells: dict[str, tuple[ShardInput, CellRef]] = _pick(inputs, "cells", "cell_id")
    rows: dict[str, tuple[ShardInput, RowRef]] = _pick(inputs, "rows", "row_id")
    planned = sorted({cid for inp in inputs for cid in inp.planned} | set(cells),
                     key=order.cell)
    warnings += _warnings(inputs, set(cells))
    present = {inp.index for inp in inputs}
    complete = len(present) == first.count and set(planned) <= set(cells)
    failed = any(ref.status != "ok" for _, ref in cells.values())
    status = ("interrupted" if not complete
              else "finished-with-failures" if failed else "finished")
    ended = [inp.run["finished"] for inp in inputs if inp.run.get("finished")]
    run = first.run
    values = {
        "suite_name": run["suite_name"], "suite_path": run["suite_path"],
        "suite_json": run["suite_json"], "status": status,
        "started": min(inp.run["started"] for inp in inputs),
        "finished": max(ended) if ended else None, "seed": run["seed"],
        "git_commit": run["git_commit"], "machine_json": run["machine_json"],
        "versions_json": run["versions_json"], "plugins_json": run["plugins_json"],
        "cells_total": len(planned), "class_names_json": run["class_names_json"],
        "planned_json": json.dumps(planned), "shard": None,
        "data_range_json": run.get("data_range_json"),
    }
    existed = out_path.exists()
    size = out_path.stat().st_size if existed and out_path.is_file() else None
    plugins = _registered()
    out = Store(out_path)
    try:
        from bench.results.stats import update_stats

        with out.transaction():
            run_id = insert_run(out, values)
            for rid in sorted(rows, key=lambda r: order.row(rows[r][1].model_id,
                                                            rows[r][1].defense_id)):
                inp, row = rows[rid]
                copy_row(inp.store, row.pk, out, run_id)
            for cid in sorted(cells, key=order.cell):
                inp, cell = cells[cid]
                copy_cell(inp.store, cell.pk, out, run_id)
            update_stats(out, run_id, plugins)
    except BaseException:
        out.close()
        if not existed:  # leave no store behind where there was none
            for p in (out_path, Path(f"{out_path}-wal"), Path(f"{out_path}-shm")):
                p.unlink(missing_ok=True)
        elif size == 0:
            out_path.write_bytes(b"")
        raise
    out.close()
    return MergeResult(run_id, out_path, len(present), first.count, len(cells),
                       sum(len(inp.cells) for inp in inputs) - len(cells), status, warnings)


__all__ = ["GridOrder", "MergeResult", "check_inputs", "merge", "open_input", "split_spec"]
