from __future__ import annotations

import hashlib
import http.server
import json
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from bench_builtin.datasets import download as dl
from bench_builtin.datasets import emnist as em
from bench_builtin.datasets.emnist import Emnist, EmnistParams
from bench_builtin.datasets.idx import write_idx

from bench.errors import DataError


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server over ``tmp_path/www``: yields (base URL, directory served)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_Quiet, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def _build_zip(path: Path, work: Path) -> dict[str, str]:
    """A miniature official archive: gzip/emnist-{mnist,digits}-* members. Returns sha256s."""
    work.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    hashes = {}
    with zipfile.ZipFile(path, "w") as zf:
        for variant in ("mnist", "digits"):
            for split, n in (("train", 30), ("test", 12)):
                stem = f"emnist-{variant}-{split}"
                for name, arr in (
                    (f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28))),
                    (f"{stem}-labels-idx1-ubyte.gz", np.arange(n) % 10),
                ):
                    f = write_idx(work / name, arr)
                    zf.write(f, f"gzip/{name}")
                    hashes[name] = hashlib.sha256(f.read_bytes()).hexdigest()
            mapping = "".join(f"{i} {48 + i}\n" for i in range(10))
            zf.writestr(f"gzip/emnist-{variant}-mapping.txt", mapping)
        zf.writestr("gzip/README", "not extracted")
    return hashes


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    em.clear_cache()
    monkeypatch.delenv(em.ENV_VAR, raising=False)


def test_download_extract_and_load(
    served: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = served
    hashes = _build_zip(root / "gzip.zip", tmp_path / "build")
    known = {k: v for k, v in hashes.items() if k.startswith("emnist-mnist-test")}
    monkeypatch.setattr(dl, "KNOWN_SHA256", known)
    data = tmp_path / "data"
    ds = Emnist(EmnistParams(variant="mnist", data_dir=str(data), download=True,
                             url=f"{base}/gzip.zip"))
    split = ds.load("test")
    assert len(split) == 12 and split.num_classes == 10
    names = sorted(p.name for p in data.iterdir())
    assert names == sorted(
        [dl.ARCHIVE_NAME, dl.MANIFEST_NAME, "emnist-mnist-mapping.txt"]
        + [k for k in hashes if k.startswith("emnist-mnist-")]
    )  # only the requested variant, no temporary files left behind
    manifest = json.loads((data / dl.MANIFEST_NAME).read_text())
    for name, digest in hashes.items():
        if name.startswith("emnist-mnist-"):
            assert manifest[name] == {"sha256": digest, "verified": name in known}
    # a second variant comes from the kept archive: the server is not asked again
    (root / "gzip.zip").unlink()
    digits = Emnist(EmnistParams(variant="digits", data_dir=str(data), download=True,
                                 url=f"{base}/gzip.zip")).load("train[:10]")
    assert len(digits) == 10
    assert "emnist-digits-train-images-idx3-ubyte.gz" in json.loads(
        (data / dl.MANIFEST_NAME).read_text()
    )


def test_hash_mismatch_is_refused(
    served: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = served
    _build_zip(root / "gzip.zip", tmp_path / "build")
    bad = "0" * 64
    monkeypatch.setattr(dl, "KNOWN_SHA256", {"emnist-mnist-test-images-idx3-ubyte.gz": bad})
    data = tmp_path / "data"
    with pytest.raises(DataError) as err:
        dl.fetch_variant("mnist", data, f"{base}/gzip.zip")
    msg = str(err.value)
    assert msg.startswith("emnist-mnist-test-images-idx3-ubyte.gz from emnist-gzip.zip: sha256 ")
    assert msg.endswith(f"does not match the known {bad}; refused it and deleted the archive")
    assert not (data / "emnist-mnist-test-images-idx3-ubyte.gz").exists()
    assert not (data / dl.ARCHIVE_NAME).exists()
    assert not list(data.glob("*.part"))


def test_http_error_and_missing_variant(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    with pytest.raises(DataError) as err:
        dl.fetch_variant("mnist", tmp_path / "d1", f"{base}/nothing.zip")
    assert str(err.value) == f"download of {base}/nothing.zip failed: HTTP 404"
    assert not list((tmp_path / "d1").iterdir())
    _build_zip(root / "gzip.zip", tmp_path / "build")
    with pytest.raises(DataError) as err:
        dl.fetch_variant("letters", tmp_path / "d2", f"{base}/gzip.zip")
    assert str(err.value) == (
        f"{tmp_path / 'd2' / dl.ARCHIVE_NAME}: holds no gzip/emnist-letters-* files"
    )


def test_not_a_zip(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    (root / "gzip.zip").write_bytes(b"<html>maintenance</html>")
    with pytest.raises(DataError, match=r"not a valid zip archive .*; deleted it"):
        dl.fetch_variant("mnist", tmp_path / "d", f"{base}/gzip.zip")
    assert not (tmp_path / "d" / dl.ARCHIVE_NAME).exists()


def test_certificate_checks_on(
    served: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    base, root = served
    (root / "f.bin").write_bytes(b"x" * 3_000_000)
    seen: list[dict[str, object]] = []
    real = httpx.stream

    def spy(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        seen.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx, "stream", spy)
    out = dl.download(f"{base}/f.bin", tmp_path / "f.bin")
    assert out.stat().st_size == 3_000_000
    assert seen and seen[0]["verify"] is True


def test_connection_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^download of http://127\.0\.0\.1:9/x\.zip failed: "):
        dl.download("http://127.0.0.1:9/x.zip", tmp_path / "x.zip", timeout=5)


def test_known_hashes_are_the_official_balanced_files() -> None:
    assert sorted(dl.KNOWN_SHA256) == sorted(
        f"emnist-balanced-{s}-{k}.gz"
        for s in ("train", "test")
        for k in ("images-idx3-ubyte", "labels-idx1-ubyte")
    )
    assert dl.KNOWN_SHA256["emnist-balanced-test-images-idx3-ubyte.gz"].startswith("117fc12b")
