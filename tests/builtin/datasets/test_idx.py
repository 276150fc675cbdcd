from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from bench_builtin.datasets.idx import read_idx, read_images, read_labels, read_pair, write_idx

from bench.errors import DataError


def _images(n: int = 5) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("name", ["img-idx3-ubyte", "img-idx3-ubyte.gz"])
def test_roundtrip_plain_and_gzip(tmp_path: Path, name: str) -> None:
    x = _images()
    path = write_idx(tmp_path / name, x)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    out = read_images(path)
    assert out.dtype == np.uint8 and out.shape == (5, 28, 28)
    np.testing.assert_array_equal(out, x)


def test_header_is_big_endian(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "l", np.arange(3, dtype=np.uint8))
    assert path.read_bytes() == struct.pack(">II", 2049, 3) + bytes([0, 1, 2])
    path = write_idx(tmp_path / "i", np.zeros((2, 28, 28), np.uint8))
    assert path.read_bytes()[:16] == struct.pack(">IIII", 2051, 2, 28, 28)


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "labels-no-suffix", np.arange(4, dtype=np.uint8), compress=True)
    np.testing.assert_array_equal(read_labels(path), np.arange(4))


def test_bad_magic(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "labels", np.arange(4, dtype=np.uint8))
    with pytest.raises(DataError) as err:
        read_images(path)
    assert str(err.value) == (
        f"{path}: not an IDX image file (magic number 2049, expected 2051)"
    )
    junk = tmp_path / "junk.gz"
    junk.write_bytes(gzip.compress(b"PK\x03\x04 definitely not idx"))
    with pytest.raises(DataError) as err:
        read_labels(junk)
    assert str(err.value) == (
        f"{junk}: not an IDX label file (magic number 1347093252, expected 2049)"
    )


def test_truncated_data(tmp_path: Path) -> None:
    raw = write_idx(tmp_path / "a", _images(3)).read_bytes()
    path = tmp_path / "trunc"
    path.write_bytes(raw[:-100])
    with pytest.raises(DataError) as err:
        read_images(path)
    assert str(err.value) == (
        f"{path}: truncated: header declares 3x28x28 = 2352 data bytes but the file holds 2252"
    )


def test_truncated_header_and_extra_bytes(tmp_path: Path) -> None:
    path = tmp_path / "h"
    path.write_bytes(struct.pack(">II", 2051, 3))
    with pytest.raises(DataError) as err:
        read_images(path)
    assert str(err.value) == f"{path}: truncated IDX header (8 of 16 bytes)"
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="truncated IDX header \\(2 bytes\\)"):
        read_labels(path)
    path.write_bytes(struct.pack(">II", 2049, 2) + b"\x01\x02\x03")
    with pytest.raises(DataError) as err:
        read_labels(path)
    assert str(err.value) == f"{path}: 1 unexpected bytes after the 2 data the header declares"


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    raw = write_idx(tmp_path / "a.gz", _images(3)).read_bytes()
    path = tmp_path / "cut.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError) as err:
        read_images(path)
    assert str(err.value).startswith(f"{path}: corrupt or truncated gzip data (")


def test_wrong_dims(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "small", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError) as err:
        read_images(path)
    assert str(err.value) == f"{path}: images are 8x8, expected 28x28"
    assert read_images(path, shape=None).shape == (2, 8, 8)


def test_count_mismatch(tmp_path: Path) -> None:
    images = write_idx(tmp_path / "i.gz", _images(5))
    labels = write_idx(tmp_path / "l.gz", np.zeros(4, np.uint8))
    with pytest.raises(DataError) as err:
        read_pair(images, labels)
    assert str(err.value) == f"{images}: 5 images but {labels} has 4 labels"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        read_idx(tmp_path / "nope", 2049)
    assert str(err.value) == f"{tmp_path / 'nope'}: file not found"


def _gzip_stream(header: bytes, zeros: int) -> bytes:
    """A gzip stream of ``header`` then ``zeros`` zero bytes, made without holding them."""
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [c.compress(header)]
    block = bytes(1 << 22)
    while zeros > 0:
        out.append(c.compress(block[: min(zeros, len(block))]))
        zeros -= len(block)
    out.append(c.flush())
    return b"".join(out)


def test_gzip_bomb_declared_huge_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    path.write_bytes(_gzip_stream(struct.pack(">IIII", 2051, 2_000_000, 28, 28), 0))
    with pytest.raises(DataError) as err:
        read_images(path)
    assert str(err.value) == (
        f"{path}: header declares 2000000x28x28 = 1568000000 data bytes, more than the "
        "1073741824 (1 GiB) an IDX file may hold here")


def test_gzip_trailer_must_match_the_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    path.write_bytes(_gzip_stream(struct.pack(">IIII", 2051, 2, 28, 28), 50_000_000))
    with pytest.raises(DataError) as err:
        read_images(path)
    assert str(err.value) == (
        f"{path}: corrupt or truncated gzip data (the IDX header declares 1584 bytes, the gzip "
        "trailer 50000016 mod 2**32)")
    # a forged trailer: inflation stops after the declared size
    raw = bytearray(path.read_bytes())
    raw[-4:] = struct.pack("<I", 1584)
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as err:
        read_images(path)
    assert str(err.value) == (
        f"{path}: unexpected bytes after the 2x28x28 data the header declares")


def test_huge_dimensions_do_not_overflow(tmp_path: Path) -> None:
    path = tmp_path / "h"
    path.write_bytes(struct.pack(">IIII", 2051, 2**32 - 1, 2**32 - 1, 2**32 - 1))
    with pytest.raises(DataError, match="more than the 1073741824"):
        read_idx(path, 2051)


def test_gzip_crc_and_trailing_data(tmp_path: Path) -> None:
    raw = bytearray(write_idx(tmp_path / "a.gz", np.arange(10, dtype=np.uint8)).read_bytes())
    path = tmp_path / "b.gz"
    path.write_bytes(bytes(raw) + b"junk" + raw[-4:])  # the trailer agrees, the stream does not
    with pytest.raises(DataError) as err:
        read_labels(path)
    assert str(err.value) == (
        f"{path}: corrupt or truncated gzip data (data after the end of the gzip stream)")
    raw[-8] ^= 0xFF  # the CRC
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as err:
        read_labels(path)
    assert str(err.value) == f"{path}: corrupt or truncated gzip data (Error -3 while " \
        "decompressing data: incorrect data check)"


def test_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        read_labels("/dev/zero")
    assert str(err.value) == "/dev/zero: not a regular file"


def test_arrays_are_read_only(tmp_path: Path) -> None:
    out = read_labels(write_idx(tmp_path / "l", np.arange(3, dtype=np.uint8)))
    assert not out.flags.writeable
