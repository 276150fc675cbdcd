from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench_builtin.datasets import emnist as em
from bench_builtin.datasets.emnist import CLASS_NAMES, Emnist, EmnistParams, read_mapping
from bench_builtin.datasets.idx import write_idx
from pydantic import ValidationError

from bench.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "data" / "emnist"
_skip_unless_shared = pytest.mark.skipif(
    not (SHARED / "emnist-bymerge-test-images-idx3-ubyte.gz").is_file(),
    reason=f"shared EMNIST data not found at {SHARED}",
)


def needs_shared(fn):  # type: ignore[no-untyped-def]
    return pytest.mark.shared_data(_skip_unless_shared(fn))


def _upright_images(n: int) -> np.ndarray:
    """Asymmetric images: image i has a bright pixel at (row 2, col 20) and a value ramp."""
    x = np.zeros((n, 28, 28), np.uint8)
    x[:, 2, 20] = 255
    x[:, 25, 3] = np.arange(n, dtype=np.uint8)
    return x


def _write(directory: Path, variant: str, split: str, x: np.ndarray, y: np.ndarray,
           gz: bool = True) -> None:
    suffix = ".gz" if gz else ""
    stem = directory / f"emnist-{variant}-{split}"
    write_idx(f"{stem}-images-idx3-ubyte{suffix}", x.transpose(0, 2, 1))  # official: transposed
    write_idx(f"{stem}-labels-idx1-ubyte{suffix}", y.astype(np.uint8))


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    em.clear_cache()
    monkeypatch.delenv(em.ENV_VAR, raising=False)


def test_transposition_fixed_and_format(tmp_path: Path) -> None:
    x = _upright_images(10)
    y = np.arange(10) % 10
    _write(tmp_path, "digits", "test", x, y)
    split = Emnist(EmnistParams(variant="digits", data_dir=str(tmp_path))).load("test")
    assert split.x.shape == (10, 28, 28, 1) and split.x.dtype == np.float32
    assert split.y.dtype == np.int64 and split.y.tolist() == y.tolist()
    assert split.x[0, 2, 20, 0] == 1.0 and split.x[0, 20, 2, 0] == 0.0  # upright, not mirrored
    assert split.x[7, 25, 3, 0] == pytest.approx(7 / 255)
    assert 0.0 <= split.x.min() and split.x.max() <= 1.0
    assert split.num_classes == 10 and split.class_names == tuple("0123456789")
    assert split.name == "emnist-digits:test"


def test_plain_files_and_slicing(tmp_path: Path) -> None:
    _write(tmp_path, "mnist", "train", _upright_images(20), np.arange(20) % 10, gz=False)
    ds = Emnist(EmnistParams(variant="mnist", data_dir=str(tmp_path)))
    head, tail = ds.load("train[:85%]"), ds.load("train[85%:]")
    assert (len(head), len(tail)) == (17, 3)
    assert head.name == "emnist-mnist:train[:85%]"
    np.testing.assert_array_equal(np.concatenate([head.y, tail.y]), np.arange(20) % 10)
    assert len(ds.load("train[5:8]")) == 3
    with pytest.raises(ConfigError, match="unknown split 'valid' for emnist-mnist"):
        ds.load("valid")


def test_letters_are_remapped(tmp_path: Path) -> None:
    y = np.array([1, 26, 5])
    _write(tmp_path, "letters", "test", _upright_images(3), y)
    split = Emnist(EmnistParams(variant="letters", data_dir=str(tmp_path))).load("test")
    assert split.y.tolist() == [0, 25, 4]
    assert split.num_classes == 26 and split.class_names[0] == "Aa"
    _write(tmp_path, "letters", "test", _upright_images(3), np.array([0, 1, 2]))
    em.clear_cache()
    with pytest.raises(DataError, match=r"label 0 outside 1\.\.26 for emnist-letters"):
        Emnist(EmnistParams(variant="letters", data_dir=str(tmp_path))).load("test")


def test_mapping_file(tmp_path: Path) -> None:
    lines = [f"{i} {ord(c)}" for i, c in enumerate("0123456789")]
    lines[3] = "3 88"  # 'X' instead of '3': the file wins over the built-in table
    (tmp_path / "emnist-digits-mapping.txt").write_text("\n".join(lines) + "\n")
    _write(tmp_path, "digits", "test", _upright_images(4), np.array([3, 3, 0, 9]))
    split = Emnist(EmnistParams(variant="digits", data_dir=str(tmp_path))).load("test")
    assert split.class_names[3] == "X" and split.class_names[9] == "9"
    letters = tmp_path / "letters.txt"
    letters.write_text("".join(f"{i + 1} {65 + i} {97 + i}\n" for i in range(26)))
    assert read_mapping(letters, "letters") == CLASS_NAMES["letters"]
    bad = tmp_path / "bad.txt"
    bad.write_text("0 48\n1 x\n")
    with pytest.raises(DataError) as err:
        read_mapping(bad, "digits")
    assert str(err.value) == f"{bad}:2: expected 'label ascii_code', got '1 x'"
    bad.write_text("0 48\n1 49\n")
    with pytest.raises(DataError) as err:
        read_mapping(bad, "digits")
    assert str(err.value) == f"{bad}: expected labels 0..9 for emnist-digits, found 2 entries"


def test_label_out_of_range(tmp_path: Path) -> None:
    _write(tmp_path, "mnist", "test", _upright_images(2), np.array([1, 12]))
    with pytest.raises(DataError) as err:
        Emnist(EmnistParams(variant="mnist", data_dir=str(tmp_path))).load("test")
    assert "label 12 outside 0..9 for emnist-mnist" in str(err.value)


def test_missing_files_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError) as err:
        Emnist(EmnistParams(variant="bymerge", data_dir=str(tmp_path))).load("train[:10]")
    assert str(err.value) == (
        f"EMNIST bymerge train files not found in {tmp_path} (data_dir parameter): expected "
        "emnist-bymerge-train-images-idx3-ubyte[.gz] and "
        "emnist-bymerge-train-labels-idx1-ubyte[.gz]; provide them with the dataset's data_dir "
        "parameter, the ARTBENCH_EMNIST_DIR environment variable, or download: true (fetches "
        "the official ~560 MB archive)"
    )
    _write(tmp_path, "bymerge", "train", _upright_images(2), np.zeros(2))
    (tmp_path / "emnist-bymerge-train-labels-idx1-ubyte.gz").unlink()
    absent = tmp_path / "absent"
    monkeypatch.setenv(em.ENV_VAR, str(absent))
    with pytest.raises(DataError) as err:
        Emnist(EmnistParams(variant="bymerge")).load("train")
    msg = str(err.value)
    assert f"not found in {absent} ($ARTBENCH_EMNIST_DIR, which does not exist)" in msg
    assert "\n" not in msg


def test_data_dir_priority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(em.ENV_VAR, str(tmp_path / "env"))
    assert em.resolve_data_dir("/p") == (Path("/p"), "data_dir parameter")
    assert em.resolve_data_dir(None) == (tmp_path / "env", "$ARTBENCH_EMNIST_DIR")
    monkeypatch.delenv(em.ENV_VAR)
    directory, origin = em.resolve_data_dir(None)
    assert directory.name == "emnist" and "artbench" in str(directory)
    assert origin == "per-user cache directory"


def test_decoded_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "mnist", "test", _upright_images(10), np.arange(10))
    calls = []
    real = em.read_pair
    monkeypatch.setattr(em, "read_pair", lambda *a: calls.append(a) or real(*a))
    ds = Emnist(EmnistParams(variant="mnist", data_dir=str(tmp_path)))
    a, b = ds.load("test[:50%]"), ds.load("test[50%:]")
    Emnist(EmnistParams(variant="mnist", data_dir=str(tmp_path))).load("test")
    assert len(calls) == 1 and len(a) + len(b) == 10
    a.x[:] = 0.0  # returned arrays are the caller's own: the cache is unaffected
    assert ds.load("test[:50%]").x.max() == 1.0


def test_params_validation() -> None:
    assert EmnistParams().variant == "balanced" and EmnistParams().download is False
    assert EmnistParams().url == "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    with pytest.raises(ValidationError):
        EmnistParams(variant="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must be an http"):
        EmnistParams(url="ftp://example.org/gzip.zip")


@needs_shared
def test_real_bymerge_split() -> None:
    ds = Emnist(EmnistParams(variant="bymerge", data_dir=str(SHARED)))
    head, tail = ds.load("test[:85%]"), ds.load("test[85%:]")
    assert (len(head), len(tail)) == (98_875, 17_448)
    assert head.x.shape == (98_875, 28, 28, 1) and head.num_classes == tail.num_classes == 47
    assert head.class_names == CLASS_NAMES["bymerge"]
    assert head.x.dtype == np.float32 and head.x.min() == 0.0 and head.x.max() == 1.0
    y = np.concatenate([head.y, tail.y])
    counts = np.bincount(y, minlength=47)
    assert counts.sum() == 116_323 and counts.min() == 415 and counts.max() == 6_400
    # a '1' is a vertical stroke once upright: its mean image varies across columns, not rows
    ones = head.x[head.y == head.class_names.index("1"), ..., 0].mean(axis=0)
    assert ones.mean(axis=0).var() > 4 * ones.mean(axis=1).var()
    # a '7' has its bar at the top (not on the left, as the stored transposed image has)
    seven = head.x[head.y == head.class_names.index("7"), ..., 0].mean(axis=0)
    assert seven[4:8].mean() > 2 * seven[:, 4:8].mean()


@needs_shared
def test_real_mnist_test() -> None:
    split = Emnist(EmnistParams(variant="mnist", data_dir=str(SHARED))).load("test")
    assert len(split) == 10_000 and split.num_classes == 10
    assert np.bincount(split.y).min() > 800
