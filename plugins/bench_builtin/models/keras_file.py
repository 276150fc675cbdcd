"""``keras-file``: a user's trained Keras network, deployed as it is.

``params: {path: model.keras, sha256: <64 hex digits>}``. A relative ``path`` is read from the
suite file's folder (from the working directory when the suite is not a file). When the suite is
validated (``bench validate`` / ``bench run``, before anything runs) the file must exist and its
sha256 match the pinned one; ``build`` copies the file into a private temporary folder while
hashing it again, and loads that very copy (``keras.saving.load_model(..., safe_mode=True,
compile=False)``), so what is loaded is what was checked. A legacy HDF5 file (``.h5`` /
``.hdf5``) is refused unless ``allow_legacy_h5: true``.

The network is checked against the data and a final softmax is removed or refused (see
:mod:`bench_builtin.models.network`). Defense ``none`` (and any defense using the undefended
network) deploys it untouched: never trained, never cached. A defense that trains networks
(distillation's teacher and student, adversarial training) calls ``fit``; ``on_training`` says
what that means:

- ``refuse`` (default): the row fails with one line saying why;
- ``fine-tune``: training starts from the file's weights;
- ``from-scratch``: the file's architecture with fresh weights (``keras.models.clone_model``
  under the suite's seed).

Training uses ``epochs``, ``optimizer``, ``learning_rate``, ``momentum``, ``batch_size``. The
cache key holds the file's sha256, not its path: a moved file hits the cache, an edited one not.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bench.batches import BatchTransform
from bench.errors import ConfigError
from bench.interfaces import Model
from bench_builtin.models.fitting import TrainingParams, fit_logits
from bench_builtin.models.network import check_network

WHO = "model keras-file"
LEGACY = (".h5", ".hdf5")


def resolve(path: str, info: ValidationInfo) -> Path:
    """``path`` made absolute against the suite's folder (else the working directory)."""
    p = Path(path).expanduser()
    base = (info.context or {}).get("suite_dir")
    return (Path(base) / p if base else p.absolute()) if not p.is_absolute() else p


def file_sha256(path: Path, copy_to: Path | None = None) -> str:
    """sha256 of ``path``'s bytes, written to ``copy_to`` as they are read (when given)."""
    h = hashlib.sha256()
    with open(path, "rb") as src, contextlib.ExitStack() as stack:
        dst = stack.enter_context(open(copy_to, "wb")) if copy_to is not None else None
        while chunk := src.read(1 << 20):
            h.update(chunk)
            if dst is not None:
                dst.write(chunk)
    return h.hexdigest()


class KerasFileParams(TrainingParams):
    allow_legacy_h5: bool = False
    path: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    on_training: Literal["refuse", "fine-tune", "from-scratch"] = "refuse"
    softmax: Literal["unwrap", "refuse"] = "unwrap"
    _file: Path = PrivateAttr(default=Path())

    @field_validator("path")
    @classmethod
    def _readable(cls, value: str, info: ValidationInfo) -> str:
        p = resolve(value, info)
        if p.suffix.lower() in LEGACY:
            if not info.data.get("allow_legacy_h5"):
                raise PydanticCustomError(
                    "legacy_h5", "a legacy HDF5 file: re-save it as .keras, or set "
                    "allow_legacy_h5: true to load it anyway")
        elif p.suffix.lower() != ".keras":
            raise PydanticCustomError("suffix", "not a .keras file (nor a legacy .h5)")
        if not p.is_file():
            raise PydanticCustomError("no_file", "no such file {file}", {"file": str(p)})
        return value

    @field_validator("sha256")
    @classmethod
    def _pinned(cls, value: str, info: ValidationInfo) -> str:
        pinned, value = value, value.lower()
        if "path" not in info.data:  # the path was refused already
            return value
        p = resolve(info.data["path"], info)
        try:
            actual = file_sha256(p)
        except OSError as exc:
            raise PydanticCustomError("unreadable", "cannot read {file} ({why})",
                                      {"file": str(p), "why": exc.strerror or str(exc)}
                                      ) from None
        if actual != value:
            raise PydanticCustomError(
                "sha256_mismatch", "{file} has sha256 {actual}, not the pinned {pinned}",
                {"file": p.name, "actual": actual, "pinned": repr(pinned)})
        return value

    @model_validator(mode="after")
    def _remember(self, info: ValidationInfo) -> KerasFileParams:
        self._file = resolve(self.path, info)
        return self


class KerasFile(Model):
    name = "keras-file"
    version = "1.0.0"
    description = "A trained Keras network from a .keras file (sha256-pinned), deployed as it is"
    Params = KerasFileParams

    def pretrained(self) -> bool:
        return True

    def training_key(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json", exclude={"path"})

    def build(self, input_shape: tuple[int, ...], num_classes: int, seed: int) -> Any:
        import keras

        p = cast(KerasFileParams, self.params)
        with tempfile.TemporaryDirectory(prefix="artbench-keras-file-") as tmp:
            copy = Path(tmp) / f"model{p._file.suffix.lower()}"
            try:
                actual = file_sha256(p._file, copy)
            except OSError as exc:
                raise ConfigError(f"{WHO}: cannot read {p._file} "
                                  f"({exc.strerror or exc})") from None
            if actual != p.sha256:
                raise ConfigError(f"{WHO}: {p._file} has sha256 {actual}, not the pinned "
                                  f"{p.sha256}")
            try:
                model = keras.saving.load_model(copy, safe_mode=True, compile=False)
            except Exception as exc:  # noqa: BLE001 - any failure to load is the file's
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise ConfigError(f"{WHO}: cannot load {p._file}: "
                                  f"{type(exc).__name__}: {text}") from None
        return check_network(model, input_shape, num_classes, f"{WHO} ({p._file.name})",
                             p.softmax)

    def fit(
        self,
        model: Any,
        x: np.ndarray,
        targets: np.ndarray,
        temperature: float,
        seed: int,
        callbacks: Sequence[Any] = (),
        transform: BatchTransform | None = None,
    ) -> dict[str, list[float]]:
        import keras

        p = cast(KerasFileParams, self.params)
        if p.on_training == "refuse":
            raise ConfigError(f"{WHO}: the weights of {p._file.name} are fixed, but this row's "
                              "defense trains networks: set on_training: fine-tune (start from "
                              "the file's weights) or from-scratch (its architecture, fresh "
                              "weights)")
        if p.on_training == "from-scratch":
            keras.utils.set_random_seed(seed)
            model.set_weights(keras.models.clone_model(model).get_weights())
        return fit_logits(model, x, targets, temperature, seed, optimizer=p.optimizer,
                          learning_rate=p.learning_rate, momentum=p.momentum,
                          batch_size=p.batch_size, epochs=p.epochs, callbacks=callbacks,
                          transform=transform)
