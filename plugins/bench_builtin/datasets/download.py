"""Verified download of the official EMNIST archive (``gzip.zip``).

* Fetched with ``httpx`` and certificate verification on (``verify=True``). ART's download
  helpers are never used: they switch certificate checks off for the whole process.
* Streamed to a temporary file beside the destination, then moved into place, so an interrupted
  download never leaves a half archive under the final name. The archive is kept as
  ``emnist-gzip.zip`` in the data directory, so another variant is extracted later without
  downloading 560 MB again (delete it to reclaim the space).
* Only the requested variant's ``gzip/emnist-<variant>-*`` members are extracted (by base name,
  so no member can write outside the data directory). Files with a known sha256
  (:data:`KNOWN_SHA256`, the Balanced files) are checked and refused on mismatch, in which case
  the archive is deleted too; every extracted file's sha256 is recorded in
  ``emnist-sha256.json`` beside them (``"verified": false`` for files without a known hash).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from bench.errors import DataError

__all__ = ["ARCHIVE_NAME", "KNOWN_SHA256", "MANIFEST_NAME", "download", "extract_variant",
           "fetch_variant"]

ARCHIVE_NAME = "emnist-gzip.zip"
MANIFEST_NAME = "emnist-sha256.json"
_CHUNK = 1 << 20

#: sha256 of the official files (from the EMNIST distribution; the Balanced split)
KNOWN_SHA256: dict[str, str] = {
    "emnist-balanced-test-images-idx3-ubyte.gz":
        "117fc12b015e37ea98bfb2cbba3f77c3782c056cdbd219b87abfc8661d7135db",
    "emnist-balanced-test-labels-idx1-ubyte.gz":
        "a67cac948379b67270b9a4d0a01c8ec661598accf2f2b1964340b7c83cb175cd",
    "emnist-balanced-train-images-idx3-ubyte.gz":
        "74295e75e4e9fa2c102147460ee7eb763653d5132d883a84fb88932bfb8d2db4",
    "emnist-balanced-train-labels-idx1-ubyte.gz":
        "b46d41e5156a0a8aaaa4d18979fdd1588850fa8571018acffd5d93b325a7d6ed",
}


def _temp_beside(dest: Path) -> IO[bytes]:
    return tempfile.NamedTemporaryFile(  # closed and moved by the caller
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False
    )


def download(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Stream ``url`` to ``dest`` (via a temporary file in the same directory)."""
    import httpx

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(dest)
    try:
        with tmp, httpx.stream(
            "GET", url, verify=True, follow_redirects=True, timeout=timeout
        ) as response:
            if response.status_code != 200:
                raise DataError(f"download of {url} failed: HTTP {response.status_code}")
            for chunk in response.iter_bytes(_CHUNK):
                tmp.write(chunk)
        os.replace(tmp.name, dest)
    except httpx.HTTPError as exc:
        raise DataError(f"download of {url} failed: {exc or type(exc).__name__}") from None
    finally:
        Path(tmp.name).unlink(missing_ok=True)
    return dest


def _members(archive: zipfile.ZipFile, variant: str) -> list[zipfile.ZipInfo]:
    prefix = f"emnist-{variant}-"
    chosen = []
    for info in archive.infolist():
        path = PurePosixPath(info.filename)
        if path.parent.name == "gzip" and path.name.startswith(prefix) and (
            path.name.endswith(".gz") or path.name.endswith("-mapping.txt")
        ):
            chosen.append(info)
    return chosen


def _record(data_dir: Path, entries: dict[str, dict[str, object]]) -> None:
    manifest = data_dir / MANIFEST_NAME
    current: dict[str, dict[str, object]] = {}
    if manifest.is_file():
        try:
            current = json.loads(manifest.read_text())
        except (OSError, ValueError):
            current = {}
    current.update(entries)
    manifest.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


def extract_variant(archive_path: Path, variant: str, data_dir: Path) -> list[Path]:
    """Extract and verify one variant's files from the official archive into ``data_dir``."""
    try:
        archive = zipfile.ZipFile(archive_path)
    except (OSError, zipfile.BadZipFile) as exc:
        archive_path.unlink(missing_ok=True)
        raise DataError(f"{archive_path}: not a valid zip archive ({exc}); deleted it") from None
    written: list[Path] = []
    entries: dict[str, dict[str, object]] = {}
    with archive:
        members = _members(archive, variant)
        if not members:
            raise DataError(f"{archive_path}: holds no gzip/emnist-{variant}-* files")
        for info in members:
            name = PurePosixPath(info.filename).name
            dest = data_dir / name
            digest = hashlib.sha256()
            tmp = _temp_beside(dest)
            try:
                with tmp, archive.open(info) as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        tmp.write(chunk)
                got, known = digest.hexdigest(), KNOWN_SHA256.get(name)
                if known is not None and got != known:
                    archive_path.unlink(missing_ok=True)
                    raise DataError(
                        f"{name} from {archive_path.name}: sha256 {got} does not match the "
                        f"known {known}; refused it and deleted the archive"
                    )
                os.replace(tmp.name, dest)
            except (OSError, zipfile.BadZipFile) as exc:
                raise DataError(f"{archive_path}: cannot extract {name} ({exc})") from None
            finally:
                Path(tmp.name).unlink(missing_ok=True)
            entries[name] = {"sha256": got, "verified": known is not None}
            written.append(dest)
    _record(data_dir, entries)
    return written


def fetch_variant(variant: str, data_dir: Path, url: str, timeout: float = 60.0) -> list[Path]:
    """Make ``data_dir`` hold ``variant``'s files: download the archive if needed, extract."""
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create EMNIST data directory {data_dir} ({exc})") from None
    archive = data_dir / ARCHIVE_NAME
    if not archive.is_file():
        download(url, archive, timeout)
    return extract_variant(archive, variant, data_dir)
