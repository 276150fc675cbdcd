"""EMNIST (Cohen et al. 2017) from the official IDX files.

Files: ``emnist-<variant>-<split>-images-idx3-ubyte[.gz]`` and
``emnist-<variant>-<split>-labels-idx1-ubyte[.gz]`` (plain or gzipped), plus the optional
``emnist-<variant>-mapping.txt`` (``label ascii_code...`` per line) for the class names. They are
looked up in, by priority: the ``data_dir`` parameter, the ``ARTBENCH_EMNIST_DIR`` environment
variable, the per-user cache directory ``platformdirs.user_cache_dir("artbench")/emnist``.
With ``download: true``, missing files are fetched from the official archive (sha256-verified,
see :mod:`bench_builtin.datasets.download`).

Conventions:

* The official files store every image transposed (column-major); :func:`load_arrays` transposes
  them back, so images are upright.
* ``letters`` labels are 1..26 in the files (26 classes, upper and lower case merged); they are
  shifted to 0..25 so that labels are always class indices (class name ``"Aa"`` is label 0).
* Images are float32 ``(N, 28, 28, 1)`` in [0, 1]; labels int64.
* Decoded arrays are cached in memory per process (keyed by the files' path, size and mtime):
  loading ``test[:85%]`` and ``test[85%:]`` decodes the file once.
"""

from __future__ import annotations

import os
import string
import threading
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import field_validator

from bench.errors import DataError
from bench.interfaces import Dataset, DataSplit, Params
from bench.splits import parse_split
from bench_builtin.datasets.idx import read_pair

__all__ = ["CLASS_NAMES", "ENV_VAR", "OFFICIAL_URL", "Emnist", "EmnistParams", "load_arrays"]

OFFICIAL_URL = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
ENV_VAR = "ARTBENCH_EMNIST_DIR"
SPLITS = ("train", "test")

_DIGITS = tuple(string.digits)
_UPPER = tuple(string.ascii_uppercase)
_MERGED = (*_DIGITS, *_UPPER, *"abdefghnqrt")  # the 47 classes of Balanced and ByMerge
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "balanced": _MERGED,
    "bymerge": _MERGED,
    "byclass": (*_DIGITS, *_UPPER, *string.ascii_lowercase),
    "letters": tuple(u + u.lower() for u in _UPPER),
    "digits": _DIGITS,
    "mnist": _DIGITS,
}
#: first label value in the files (``letters`` counts from 1)
LABEL_OFFSET = {"letters": 1}

Variant = Literal["balanced", "byclass", "bymerge", "letters", "digits", "mnist"]


class EmnistParams(Params):
    variant: Variant = "balanced"
    #: directory holding the IDX files (else $ARTBENCH_EMNIST_DIR, else the per-user cache)
    data_dir: str | None = None
    #: fetch the official archive when files are missing (about 560 MB, sha256-checked)
    download: bool = False
    url: str = OFFICIAL_URL

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value


def default_data_dir() -> Path:
    """The per-user cache directory used when neither parameter nor env var is set."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("artbench")) / "emnist"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """``(directory, where the choice came from)`` following parameter > env var > cache."""
    if data_dir:
        return Path(data_dir).expanduser(), "data_dir parameter"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    return default_data_dir(), "per-user cache directory"


def file_names(variant: str, split: str) -> tuple[str, str]:
    """Official (uncompressed) names of a split's image and label files."""
    stem = f"emnist-{variant}-{split}"
    return f"{stem}-images-idx3-ubyte", f"{stem}-labels-idx1-ubyte"


def find_file(directory: Path, name: str) -> Path | None:
    """``name.gz`` or ``name`` inside ``directory`` (gzipped preferred), or None."""
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


_MAX_MAPPING_BYTES = 1 << 16


def read_mapping(path: Path, variant: str) -> tuple[str, ...]:
    """Class names from a mapping file (``label ascii_code [ascii_code...]`` per line)."""
    offset = LABEL_OFFSET.get(variant, 0)
    expected = len(CLASS_NAMES[variant])
    names: dict[int, str] = {}
    try:
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_MAPPING_BYTES + 1)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > _MAX_MAPPING_BYTES:
        raise DataError(f"{path}: larger than a mapping file may be ({_MAX_MAPPING_BYTES} bytes)")
    for lineno, line in enumerate(raw.decode("ascii", errors="replace").splitlines()):
        if not line.strip():
            continue
        try:
            label, *codes = (int(tok) for tok in line.split())
            if not codes:
                raise ValueError
            names[label - offset] = "".join(chr(c) for c in codes)
        except (ValueError, OverflowError):
            raise DataError(
                f"{path}:{lineno + 1}: expected 'label ascii_code', got {line.strip()[:60]!r}"
            ) from None
    if sorted(names) != list(range(expected)):
        first = offset
        raise DataError(
            f"{path}: expected labels {first}..{first + expected - 1} for emnist-{variant}, "
            f"found {len(names)} entries"
        )
    return tuple(names[i] for i in range(expected))


_CACHE: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}
_LOCK = threading.Lock()


def _identity(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def load_arrays(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Upright ``uint8 (N, 28, 28)`` images and ``uint8 (N,)`` labels, cached per process.

    The returned arrays are shared and read-only; callers slice and convert them.
    """
    key = (_identity(images_path), _identity(labels_path))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is None:
            stored, labels = read_pair(images_path, labels_path)
            upright = np.ascontiguousarray(stored.transpose(0, 2, 1))  # fix column-major storage
            upright.flags.writeable = False
            hit = _CACHE[key] = (upright, labels)
        return hit


def clear_cache() -> None:
    """Forget every decoded file (tests)."""
    with _LOCK:
        _CACHE.clear()


class Emnist(Dataset):
    """EMNIST handwritten characters from the official IDX files (see the module docstring)."""

    name = "emnist"
    version = "0.1.0"
    description = "EMNIST letters and digits from the official IDX files (train/test, sliceable)"
    Params = EmnistParams

    def load(self, split: str) -> DataSplit:
        p: EmnistParams = self.params  # type: ignore[assignment]
        spec = parse_split(split)
        spec.check_split(SPLITS, f"emnist-{p.variant}")
        images_path, labels_path = self._files(spec.split)
        x_all, y_all = load_arrays(images_path, labels_path)
        sl = spec.resolve(len(y_all))
        names = self._class_names(images_path.parent)
        offset = LABEL_OFFSET.get(p.variant, 0)
        y = y_all[sl].astype(np.int64) - offset
        if y.size and (y.min() < 0 or y.max() >= len(names)):
            bad = int(y.min() if y.min() < 0 else y.max()) + offset
            raise DataError(
                f"{labels_path}: label {bad} outside {offset}..{offset + len(names) - 1} "
                f"for emnist-{p.variant}"
            )
        x = x_all[sl].astype(np.float32)
        x /= 255.0
        return DataSplit(
            x=x[..., np.newaxis], y=y, num_classes=len(names), class_names=names,
            name=f"emnist-{p.variant}:{spec}",
        )

    def _files(self, split: str) -> tuple[Path, Path]:
        p: EmnistParams = self.params  # type: ignore[assignment]
        directory, origin = resolve_data_dir(p.data_dir)
        wanted = file_names(p.variant, split)
        found = [find_file(directory, n) for n in wanted]
        if None in found and p.download:
            from bench_builtin.datasets.download import fetch_variant

            fetch_variant(p.variant, directory, p.url)
            found = [find_file(directory, n) for n in wanted]
        if found[0] is None or found[1] is None:
            state = "" if directory.is_dir() else ", which does not exist"
            missing = " and ".join(f"{n}[.gz]" for n, f in zip(wanted, found, strict=True) if not f)
            raise DataError(
                f"EMNIST {p.variant} {split} files not found in {directory} ({origin}{state}): "
                f"expected {missing}; provide them with the dataset's data_dir parameter, the "
                f"{ENV_VAR} environment variable, or download: true (fetches the official "
                f"~560 MB archive)"
            )
        return found[0], found[1]

    def _class_names(self, directory: Path) -> tuple[str, ...]:
        variant = self.params.variant  # type: ignore[attr-defined]
        mapping = directory / f"emnist-{variant}-mapping.txt"
        if mapping.is_file():
            return read_mapping(mapping, variant)
        return CLASS_NAMES[variant]
