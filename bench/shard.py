"""``bench run --shard i/N``: which cells one of N processes (or machines) runs.

A cell belongs to shard ``sha256(cell id)[:8] as a big-endian integer mod N``: stable across
processes, machines and Python versions (``hash()`` is salted per process, so never that), and
independent of the other cells, so adding an attack to a suite moves no other cell to another
shard. Call :func:`in_shard` on **white-box cell ids only**: a transfer cell needs the
adversarial examples of its white-box source cell, which are not stored, so it runs in the
shard of its source. ``bench merge`` combines the N shard runs into one run.
"""

from __future__ import annotations

import hashlib
import re

from bench.errors import ConfigError

#: most shards a run may be split into
MAX_SHARDS = 10_000
_SHARD = re.compile(r"([0-9]+)/([0-9]+)", re.ASCII)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N <= MAX_SHARDS``; a one-line ConfigError
    otherwise."""
    m = _SHARD.fullmatch(text.strip())
    if m is None:
        raise ConfigError(f"--shard: expected INDEX/COUNT such as 0/4, got {text!r}")
    index_text, count_text = m.groups()
    # compared as text first: a number of thousands of digits never reaches int()
    count = int(count_text) if len(count_text) <= 9 else MAX_SHARDS + 1
    if not 1 <= count <= MAX_SHARDS:
        raise ConfigError(f"--shard: COUNT must be between 1 and {MAX_SHARDS}, got "
                          f"{count_text}")
    index = int(index_text) if len(index_text) <= 9 else count
    if index >= count:
        raise ConfigError(f"--shard: index {index_text} is out of range for {count} "
                          f"shard{'s' if count > 1 else ''} (0..{count - 1})")
    return index, count


def shard_text(index: int, count: int) -> str:
    """``(0, 4)`` -> ``"0/4"``, as stored in ``runs.shard``."""
    return f"{index}/{count}"


def shard_of(cell_id: str, count: int) -> int:
    """The shard (``0 .. count - 1``) that a white-box cell belongs to."""
    if count < 1:
        raise ValueError(f"shard count must be >= 1, got {count}")
    digest = hashlib.sha256(cell_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def in_shard(cell_id: str, index: int, count: int) -> bool:
    """Whether the white-box cell ``cell_id`` belongs to shard ``index`` of ``count``
    (transfer cells go with their source cell: do not ask about them)."""
    return shard_of(cell_id, count) == index


__all__ = ["MAX_SHARDS", "in_shard", "parse_shard", "shard_of", "shard_text"]
