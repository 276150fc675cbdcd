"""Property-based tests of the IDX reader: any file gives the array it declares or one DataError.

Inputs: random bytes; valid IDX files (plain and gzipped) with bytes flipped, inserted or cut;
headers declaring random sizes; gzip trailers that disagree with the header.
The default run tries a few hundred examples per property; ``pytest -m slow`` many more.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from bench_builtin.datasets.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, read_images
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.errors import BenchError
from tests.fuzzing import COMMON as BASE

FAST = {"max_examples": 1500}
SLOW = {"max_examples": 30_000}
COMMON = {**BASE, "suppress_health_check": [*BASE["suppress_health_check"],
                                            HealthCheck.function_scoped_fixture]}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-idx")


def idx_bytes(shape: tuple[int, ...], seed: int) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    return struct.pack(f">I{len(shape)}I", 0x0800 | len(shape), *shape) + arr.tobytes()


@st.composite
def valid_files(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        shape: tuple[int, ...] = (draw(st.integers(0, 5)), draw(st.integers(0, 4)),
                                  draw(st.integers(0, 4)))
    else:
        shape = (draw(st.integers(0, 40)),)
    raw = idx_bytes(shape, draw(st.integers(0, 3)))
    if draw(st.booleans()):
        raw = gzip.compress(raw, compresslevel=draw(st.integers(0, 9)), mtime=0)
    return raw


@st.composite
def damaged_files(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(valid_files()))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "append", "trailer"]))
        pos = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos:pos + draw(st.integers(1, 64))]
        elif op == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "append":
            raw += draw(st.binary(min_size=1, max_size=8))
        elif op == "trailer" and len(raw) >= 4:
            raw[-4:] = struct.pack("<I", draw(st.integers(0, 2**32 - 1)))
    return bytes(raw)


@st.composite
def declared_sizes(draw: st.DrawFn) -> bytes:
    """A header declaring anything (up to 2**32 - 1 per dimension) over a little data."""
    dims = draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3))
    body = struct.pack(f">I{len(dims)}I", 0x0800 | len(dims), *dims) + draw(
        st.binary(max_size=64))
    return gzip.compress(body, mtime=0) if draw(st.booleans()) else body


files = st.one_of(st.binary(max_size=200), valid_files(), damaged_files(), declared_sizes())


def _read(tmp: Path, data: bytes, magic: int, images: bool) -> None:
    path = tmp / "f"
    path.write_bytes(data)
    try:
        arr = read_images(path, shape=None) if images else read_idx(path, magic)
    except BenchError as exc:
        msg = str(exc)
        assert msg.startswith(str(path)) and len(msg.splitlines()) == 1, repr(msg)
        return
    assert arr.dtype == np.uint8 and arr.ndim == (magic & 0xFF)
    plain = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    header = 4 + 4 * arr.ndim
    assert arr.tobytes() == plain[header:]
    assert arr.shape == struct.unpack(f">{arr.ndim}I", plain[4:header])


magics = st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC])


@settings(**FAST, **COMMON)
@given(data=files, magic=magics, images=st.booleans())
def test_idx(tmp: Path, data: bytes, magic: int, images: bool) -> None:
    _read(tmp, data, IMAGES_MAGIC if images else magic, images)


@pytest.mark.slow
@settings(**SLOW, **COMMON)
@given(data=files, magic=magics, images=st.booleans())
def test_idx_slow(tmp: Path, data: bytes, magic: int, images: bool) -> None:
    _read(tmp, data, IMAGES_MAGIC if images else magic, images)
