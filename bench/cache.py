"""On-disk cache of trained models, keyed by everything that determines their weights.

Each entry is a Keras ``.keras`` file plus a JSON sidecar holding the key material and the
file's sha256, which is checked before every load; models load with ``safe_mode=True``. After
loading, the sidecar's material must hash to the entry's key and equal what the trainer asked
for, and the network's input shape and class count must match it: a different model placed under
a key (its sha256 updated) is refused. A damaged entry (:class:`DamagedEntry`) is moved aside
(``.rejected``) and its network trained again, never loaded. A cache that cannot be written (a
read-only directory, a file in its place) keeps the networks of this run in memory instead.

Files are written under a temporary name, fsynced and renamed, so a crash leaves either the old
entry or the new one. :meth:`ModelCache.lock` holds a lock per key, so that two processes that
need the same network at once train it once: the second waits, then loads what the first saved.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from bench.errors import CacheError

if TYPE_CHECKING:
    import keras

CACHE_ENV = "ARTBENCH_CACHE_DIR"


class DamagedEntry(CacheError):
    """A cache entry that must not be loaded: wrong checksum, material, shape, or unreadable."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(platformdirs.user_cache_dir("artbench")) / "models"


def cache_key(material: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``material``."""
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _canonical(material: dict[str, Any]) -> Any:
    """``material`` as it reads back from the sidecar (tuples become lists, and so on)."""
    return json.loads(json.dumps(material, sort_keys=True, default=str))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ModelCache:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        #: networks that could not be written, kept for the rest of the run
        self._memory: dict[str, keras.Model] = {}
        #: set once a warning about an unwritable cache has been shown
        self.warned = False

    def _paths(self, key: str) -> tuple[Path, Path]:
        base = self.root / key[:2] / key
        return base.with_suffix(".keras"), base.with_suffix(".json")

    def has(self, key: str) -> bool:
        if key in self._memory:
            return True
        model_path, meta_path = self._paths(key)
        return model_path.is_file() and meta_path.is_file()

    def keep(self, key: str, model: keras.Model) -> None:
        """Hold ``model`` in memory under ``key`` (when it could not be saved)."""
        self._memory[key] = model

    def meta(self, key: str) -> dict[str, Any]:
        _, meta_path = self._paths(key)
        try:
            return dict(json.loads(meta_path.read_text()))
        except (OSError, ValueError) as exc:
            raise CacheError(f"{meta_path}: unreadable cache metadata ({exc})") from None

    def load(self, key: str, material: dict[str, Any] | None = None) -> keras.Model:
        """The network under ``key``; ``material`` is what the caller derived the key from."""
        import keras

        if key in self._memory:
            return self._memory[key]
        model_path, meta_path = self._paths(key)
        try:
            meta = dict(json.loads(meta_path.read_text()))
            actual = file_sha256(model_path)
        except (OSError, ValueError, TypeError) as exc:
            raise DamagedEntry(model_path, f"unreadable cache entry ({exc})") from None
        expected = meta.get("sha256")
        if actual != expected:
            raise DamagedEntry(model_path, f"checksum mismatch (recorded {str(expected)[:12]}"
                               f"..., found {actual[:12]}...)")
        recorded = meta.get("material")
        if not isinstance(recorded, dict) or cache_key(recorded) != key:
            raise DamagedEntry(model_path, "the recorded material does not hash to this key "
                               "(an entry copied from elsewhere?)")
        if material is not None and _canonical(material) != recorded:
            raise DamagedEntry(model_path, "recorded for a different configuration than the "
                               "one asked for")
        try:
            model = keras.models.load_model(model_path, compile=False, safe_mode=True)
        except Exception as exc:  # corrupt archive despite matching hash: still the user's file
            raise DamagedEntry(model_path, f"cannot load cached model ({exc})") from None
        _check_shapes(model, recorded, model_path)
        return model

    def reject(self, key: str) -> Path:
        """Move a damaged entry aside (``<key>.keras.rejected``, ``<key>.json.rejected``), so
        that it is never loaded again and stays for inspection; returns the model's new path."""
        model_path, meta_path = self._paths(key)
        for path in (model_path, meta_path):
            try:
                os.replace(path, path.with_name(path.name + ".rejected"))
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise CacheError(f"cannot move aside the damaged cache entry {path}: "
                                 f"{exc.strerror or exc}") from None
        return model_path.with_name(model_path.name + ".rejected")

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold the lock of ``key`` (an exclusive ``flock`` on ``<key>.lock``): whoever holds
        it trains, the others wait and then load. A cache where no lock file can be created
        (read-only, a file in its place) is not locked: nothing is written there anyway."""
        path = self.root / key[:2] / f"{key}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def save(self, key: str, model: keras.Model, material: dict[str, Any], **extra: Any) -> Path:
        """Write ``model`` and its sidecar; :class:`CacheError` when the cache is not writable."""
        model_path, meta_path = self._paths(key)
        try:
            model_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".keras", dir=model_path.parent)
        except OSError as exc:
            raise CacheError(f"cannot write the model cache {self.root}: "
                             f"{exc.strerror or exc}") from None
        os.close(fd)
        tmp_path = Path(tmp)
        tmp_meta = meta_path.with_suffix(".json.tmp")
        try:
            model.save(tmp_path)
            _fsync(tmp_path)
            digest = file_sha256(tmp_path)
            meta = {"key": key, "sha256": digest, "material": material, **extra}
            tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
            _fsync(tmp_meta)
            os.replace(tmp_path, model_path)
            os.replace(tmp_meta, meta_path)
            _fsync(model_path.parent)
        except OSError as exc:
            raise CacheError(f"cannot write the model cache {self.root}: "
                             f"{exc.strerror or exc}") from None
        finally:
            tmp_path.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)
        return model_path


def _fsync(path: Path) -> None:
    """Flush a file (or a directory's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_shapes(model: keras.Model, material: dict[str, Any], path: Path) -> None:
    """The network must take the recorded input shape and output the recorded class count."""
    want_shape, want_classes = material.get("input_shape"), material.get("num_classes")
    try:
        got_shape = [None if d is None else int(d) for d in model.input_shape[1:]]
        got_classes = int(model.output_shape[-1])
    except (AttributeError, TypeError, ValueError, IndexError):
        raise DamagedEntry(path, "the cached network has not one input and one output"
                           ) from None
    if want_shape is not None and got_shape != list(want_shape):
        raise DamagedEntry(path, f"the cached network takes inputs of shape "
                           f"{tuple(got_shape)}, its key says {tuple(want_shape)}")
    if want_classes is not None and got_classes != want_classes:
        raise DamagedEntry(path, f"the cached network outputs {got_classes} classes, its key "
                           f"says {want_classes}")
