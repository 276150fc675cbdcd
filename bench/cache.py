"""On-disk cache of trained models, keyed by everything that determines their weights.

Each entry is a Keras ``.keras`` file plus a JSON sidecar holding the key material and the
file's sha256, which is checked before every load; models load with ``safe_mode=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from bench.errors import CacheError

if TYPE_CHECKING:
    import keras

CACHE_ENV = "ARTBENCH_CACHE_DIR"


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(platformdirs.user_cache_dir("artbench")) / "models"


def cache_key(material: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``material``."""
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ModelCache:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def _paths(self, key: str) -> tuple[Path, Path]:
        base = self.root / key[:2] / key
        return base.with_suffix(".keras"), base.with_suffix(".json")

    def has(self, key: str) -> bool:
        model_path, meta_path = self._paths(key)
        return model_path.is_file() and meta_path.is_file()

    def meta(self, key: str) -> dict[str, Any]:
        _, meta_path = self._paths(key)
        try:
            return dict(json.loads(meta_path.read_text()))
        except (OSError, ValueError) as exc:
            raise CacheError(f"{meta_path}: unreadable cache metadata ({exc})") from None

    def load(self, key: str) -> keras.Model:
        import keras

        model_path, _ = self._paths(key)
        expected = self.meta(key).get("sha256")
        actual = file_sha256(model_path)
        if actual != expected:
            raise CacheError(
                f"{model_path}: checksum mismatch (recorded {str(expected)[:12]}..., "
                f"found {actual[:12]}...); delete it to retrain"
            )
        try:
            return keras.models.load_model(model_path, compile=False, safe_mode=True)
        except Exception as exc:  # corrupt archive despite matching hash: still the user's file
            raise CacheError(f"{model_path}: cannot load cached model ({exc})") from None

    def save(self, key: str, model: keras.Model, material: dict[str, Any], **extra: Any) -> Path:
        model_path, meta_path = self._paths(key)
        model_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".keras", dir=model_path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            model.save(tmp_path)
            digest = file_sha256(tmp_path)
            os.replace(tmp_path, model_path)
        finally:
            tmp_path.unlink(missing_ok=True)
        meta = {"key": key, "sha256": digest, "material": material, **extra}
        tmp_meta = meta_path.with_suffix(".json.tmp")
        tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        os.replace(tmp_meta, meta_path)
        return model_path
