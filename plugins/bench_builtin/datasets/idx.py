"""Reader (and a small writer, for tests and fixtures) for IDX files, plain or gzipped.

IDX layout: a big-endian header ``0x00 0x00 <type> <ndim>`` (so unsigned-byte images have magic
2051 = 0x0803 and unsigned-byte labels 2049 = 0x0801), then ``ndim`` big-endian uint32 sizes,
then the raw data. Every problem with a file raises :class:`bench.errors.DataError` with one line
that names the file. The data is decoded with ``np.frombuffer``: no per-image Python loop.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from bench.errors import DataError

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "read_idx", "read_images", "read_labels",
           "read_pair", "write_idx"]

IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    return raw


def read_idx(path: str | Path, magic: int) -> np.ndarray:
    """Read an unsigned-byte IDX file whose magic number must be ``magic`` (2051 or 2049).

    Returns a read-only ``uint8`` array of the shape the header declares.
    """
    path = Path(path)
    ndim = magic & 0xFF
    kind = {IMAGES_MAGIC: "image", LABELS_MAGIC: "label"}.get(magic, "IDX")
    data = _read_bytes(path)
    header_len = 4 + 4 * ndim
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes)")
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise DataError(f"{path}: not an IDX {kind} file (magic number {found}, expected {magic})")
    if len(data) < header_len:
        raise DataError(f"{path}: truncated IDX header ({len(data)} of {header_len} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(data) - header_len
    if actual < expected:
        raise DataError(
            f"{path}: truncated: header declares {'x'.join(map(str, dims))} = {expected} "
            f"data bytes but the file holds {actual}"
        )
    if actual > expected:
        raise DataError(
            f"{path}: {actual - expected} unexpected bytes after the "
            f"{'x'.join(map(str, dims))} data the header declares"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)


def read_images(path: str | Path, shape: tuple[int, int] | None = (28, 28)) -> np.ndarray:
    """Read an IDX image file (magic 2051) into ``uint8 (N, rows, cols)``, as stored.

    ``shape`` (rows, cols), when given, is checked. No transposition happens here: EMNIST's
    column-major storage is fixed by the EMNIST loader.
    """
    images = read_idx(path, IMAGES_MAGIC)
    if shape is not None and images.shape[1:] != tuple(shape):
        rows, cols = images.shape[1:]
        raise DataError(f"{path}: images are {rows}x{cols}, expected {shape[0]}x{shape[1]}")
    return images


def read_labels(path: str | Path) -> np.ndarray:
    """Read an IDX label file (magic 2049) into ``uint8 (N,)``."""
    return read_idx(path, LABELS_MAGIC)


def read_pair(
    images_path: str | Path, labels_path: str | Path, shape: tuple[int, int] | None = (28, 28)
) -> tuple[np.ndarray, np.ndarray]:
    """Read matching image and label files, checking that their counts agree."""
    images = read_images(images_path, shape)
    labels = read_labels(labels_path)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path}: {images.shape[0]} images but {labels_path} "
            f"has {labels.shape[0]} labels"
        )
    return images, labels


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write a ``uint8`` array as an IDX file (gzipped when ``compress`` or the name ends .gz)."""
    path = Path(path)
    arr = np.ascontiguousarray(array, dtype=np.uint8)
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"cannot write a {arr.ndim}-dimensional IDX file")
    header = struct.pack(f">I{arr.ndim}I", 0x0800 | arr.ndim, *arr.shape)
    payload = header + arr.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    path.write_bytes(payload)
    return path
