"""Reader (and a small writer, for tests and fixtures) for IDX files, plain or gzipped.

IDX layout: a big-endian header ``0x00 0x00 <type> <ndim>`` (so unsigned-byte images have magic
2051 = 0x0803 and unsigned-byte labels 2049 = 0x0801), then ``ndim`` big-endian uint32 sizes,
then the raw data. Every problem with a file raises :class:`bench.errors.DataError` with one line
that names the file. The data is decoded with ``np.frombuffer``: no per-image Python loop.
"""

from __future__ import annotations

import gzip
import math
import os
import stat
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from bench.errors import DataError

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "MAX_DATA_BYTES", "read_idx", "read_images",
           "read_labels", "read_pair", "write_idx"]

IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_MIN = 18  # a gzip header (10 bytes) and trailer (8 bytes)
_CHUNK = 1 << 20
#: largest data an IDX file may declare (EMNIST's largest, byclass train, is 547 MB)
MAX_DATA_BYTES = 1 << 30


def _dims_text(dims: tuple[int, ...]) -> str:
    return "x".join(map(str, dims))


class _Gunzip:
    """A bounded gzip reader: never inflates more than it is asked for."""

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        self.fh = fh
        self.path = path
        self.d = zlib.decompressobj(wbits=31)  # gzip framing; checks CRC and ISIZE at the end

    def read_into(self, buf: memoryview) -> int:
        """Inflate into ``buf`` until it is full or the stream ends; return the bytes written."""
        filled = 0
        while filled < len(buf) and not self.d.eof:
            data = self.d.unconsumed_tail or self.fh.read(_CHUNK)
            out = self.d.decompress(data, len(buf) - filled)
            if not data and not out:
                break  # the file ends inside the stream
            buf[filled:filled + len(out)] = out
            filled += len(out)
        return filled

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        return bytes(buf[: self.read_into(memoryview(buf))])

    def finish(self) -> bool:
        """Check that the stream ends here (CRC included); False if it holds more data."""
        if self.read(1):
            return False
        if not self.d.eof:
            raise zlib.error("the stream ends early")
        if self.d.unused_data or self.fh.read(1):  # another member, padding or junk
            raise zlib.error("data after the end of the gzip stream")
        return True


def _isize(fh: BinaryIO, size: int) -> int:
    """The gzip trailer's ISIZE: the uncompressed length mod 2**32."""
    fh.seek(size - 4)
    (isize,) = struct.unpack("<I", fh.read(4))
    fh.seek(0)
    return int(isize)


def _read(path: Path, magic: int, inner: tuple[int, ...] | None) -> np.ndarray:
    ndim = magic & 0xFF
    kind = {IMAGES_MAGIC: "image", LABELS_MAGIC: "label"}.get(magic, "IDX")
    header_len = 4 + 4 * ndim
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{path}: not a regular file")
        with open(path, "rb") as fh:
            gz = fh.read(2) == _GZIP_MAGIC
            fh.seek(0)
            if gz and st.st_size < _GZIP_MIN:
                raise DataError(f"{path}: corrupt or truncated gzip data ({st.st_size} bytes)")
            isize = _isize(fh, st.st_size) if gz else None
            src = _Gunzip(fh, path) if gz else fh
            head = src.read(header_len)
            if len(head) < 4:
                raise DataError(f"{path}: truncated IDX header ({len(head)} bytes)")
            (found,) = struct.unpack(">I", head[:4])
            if found != magic:
                raise DataError(
                    f"{path}: not an IDX {kind} file (magic number {found}, expected {magic})")
            if len(head) < header_len:
                raise DataError(f"{path}: truncated IDX header ({len(head)} of {header_len} bytes)")
            dims = struct.unpack(f">{ndim}I", head[4:header_len])
            if inner is not None and dims[1:] != inner:
                raise DataError(f"{path}: {kind}s are {_dims_text(dims[1:])}, "
                                f"expected {_dims_text(inner)}")
            expected = math.prod(dims)  # Python ints: no overflow
            if expected > MAX_DATA_BYTES:
                raise DataError(
                    f"{path}: header declares {_dims_text(dims)} = {expected} data bytes, more "
                    f"than the {MAX_DATA_BYTES} (1 GiB) an IDX file may hold here"
                )
            if isize is not None and (header_len + expected) % 2**32 != isize:
                raise DataError(
                    f"{path}: corrupt or truncated gzip data (the IDX header declares "
                    f"{header_len + expected} bytes, the gzip trailer {isize} mod 2**32)"
                )
            if not gz:
                actual = st.st_size - header_len
                if actual < expected:
                    raise DataError(
                        f"{path}: truncated: header declares {_dims_text(dims)} = {expected} "
                        f"data bytes but the file holds {actual}"
                    )
                if actual > expected:
                    raise DataError(
                        f"{path}: {actual - expected} unexpected bytes after the "
                        f"{_dims_text(dims)} data the header declares"
                    )
            buf = bytearray(expected)
            view = memoryview(buf)
            got = (src.read_into(view) if isinstance(src, _Gunzip) else fh.readinto(view)) or 0
            if got < expected:
                raise DataError(
                    f"{path}: truncated: header declares {_dims_text(dims)} = {expected} "
                    f"data bytes but the file holds {got}"
                )
            if isinstance(src, _Gunzip) and not src.finish():
                raise DataError(
                    f"{path}: unexpected bytes after the {_dims_text(dims)} data the header "
                    "declares"
                )
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (zlib.error, EOFError) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    arr = np.frombuffer(buf, dtype=np.uint8).reshape(dims)
    arr.flags.writeable = False
    return arr


def read_idx(path: str | Path, magic: int) -> np.ndarray:
    """Read an unsigned-byte IDX file whose magic number must be ``magic`` (2051 or 2049).

    Returns a read-only ``uint8`` array of the shape the header declares. Nothing is allocated
    before the header's declared size has been checked against :data:`MAX_DATA_BYTES`, the
    file's size (plain) or the gzip trailer (gzipped), and gzip data is inflated only up to the
    declared size.
    """
    return _read(Path(path), magic, None)


def read_images(path: str | Path, shape: tuple[int, int] | None = (28, 28)) -> np.ndarray:
    """Read an IDX image file (magic 2051) into ``uint8 (N, rows, cols)``, as stored.

    ``shape`` (rows, cols), when given, is checked. No transposition happens here: EMNIST's
    column-major storage is fixed by the EMNIST loader.
    """
    return _read(Path(path), IMAGES_MAGIC, tuple(shape) if shape is not None else None)


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
