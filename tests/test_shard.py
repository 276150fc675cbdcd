"""``--shard i/N``: parsing, and the stable hash partition of cell ids."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.errors import ConfigError
from bench.shard import MAX_SHARDS, in_shard, parse_shard, shard_of, shard_text

CELL = "model=cnn/defense=none/attack=fgsm[eps=0.1]"


@pytest.mark.parametrize("text, expected", [
    ("0/1", (0, 1)), ("0/4", (0, 4)), ("3/4", (3, 4)), (" 1/2 ", (1, 2)), ("007/10", (7, 10)),
    ("9999/10000", (9999, 10000)),
])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected
    assert shard_text(*expected) == f"{expected[0]}/{expected[1]}"


@pytest.mark.parametrize("text, message", [
    ("x", "--shard: expected INDEX/COUNT such as 0/4, got 'x'"),
    ("", "--shard: expected INDEX/COUNT such as 0/4, got ''"),
    ("1", "--shard: expected INDEX/COUNT such as 0/4, got '1'"),
    ("1/2/3", "--shard: expected INDEX/COUNT such as 0/4, got '1/2/3'"),
    ("-1/2", "--shard: expected INDEX/COUNT such as 0/4, got '-1/2'"),
    ("1.0/2", "--shard: expected INDEX/COUNT such as 0/4, got '1.0/2'"),
    ("\u0661/2", "--shard: expected INDEX/COUNT such as 0/4, got '\u0661/2'"),  # Arabic-Indic 1
    ("2/2", "--shard: index 2 is out of range for 2 shards (0..1)"),
    ("1/1", "--shard: index 1 is out of range for 1 shard (0..0)"),
    ("0/0", "--shard: COUNT must be between 1 and 10000, got 0"),
    ("0/10001", "--shard: COUNT must be between 1 and 10000, got 10001"),
    ("0/" + "9" * 5000, "--shard: COUNT must be between 1 and 10000, got " + "9" * 5000),
    ("1" * 5000 + "/4", "--shard: index " + "1" * 5000 + " is out of range for 4 shards (0..3)"),
])
def test_parse_shard_refuses(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_shard(text)
    assert str(exc.value) == message


def test_a_fixed_cell_id_maps_to_a_fixed_shard():
    # sha256(CELL) starts 3bcea9bed10e5b92 = 4309568530456402834
    assert 4309568530456402834 % 7 == 5
    assert [shard_of(CELL, n) for n in (1, 2, 3, 4, 7, MAX_SHARDS)] == [0, 0, 1, 2, 5, 2834]
    assert in_shard(CELL, 5, 7) and not in_shard(CELL, 4, 7)
    assert shard_of("model=cnn/defense=none/attack=fgsm[eps=0.3]", 3) == 2


def test_the_partition_is_the_same_in_another_process():
    """No per-process salt (``hash()`` would differ with PYTHONHASHSEED)."""
    ids = [f"model=m{i}/defense=none/attack=a{i % 7}" for i in range(50)]
    code = ("import sys; from bench.shard import shard_of; "
            "print(' '.join(str(shard_of(l.strip(), 5)) for l in sys.stdin))")
    out = subprocess.run([sys.executable, "-c", code], input="\n".join(ids), text=True,
                         capture_output=True, env={"PYTHONHASHSEED": "123", "PATH": ""},
                         check=True).stdout.split()
    assert out == [str(shard_of(i, 5)) for i in ids]


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_shards_are_disjoint_and_cover_every_cell(count):
    ids = [f"model=cnn/defense=d{d}/attack=fgsm[eps={e / 100}]" for d in range(5)
           for e in range(40)]
    shards = [{i for i in ids if in_shard(i, k, count)} for k in range(count)]
    assert sum(map(len, shards)) == len(ids)  # disjoint
    assert set().union(*shards) == set(ids)  # covering
    if count > 1:  # and spread: no shard empty or holding nearly all of 200 cells
        assert all(len(ids) / count / 2 < len(s) < len(ids) / count * 2 for s in shards)


def test_shard_of_refuses_a_count_below_one():
    with pytest.raises(ValueError):
        shard_of(CELL, 0)
