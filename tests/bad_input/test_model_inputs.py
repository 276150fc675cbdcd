"""Bring-your-own-model parameters (keras-file, python): one line naming the suite, the field and
what is wrong, exit 4, nothing written. Checked when the suite is validated: no file is loaded
and no TensorFlow is needed for any of these."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.bad_input.harness import Case, run_case

NOT_A_NETWORK = b"bytes a user took for a network\n"
ACTUAL = hashlib.sha256(NOT_A_NETWORK).hexdigest()
PINNED = "0" * 64
SUITE = """\
name: byom
dataset: {{name: digits, train: "train[:300]", test: test}}
models:
  - name: {model}
    params: {params}
defenses: [{{name: none}}]
attacks: [{{name: fgsm, params: {{eps: 0.1}}}}]
"""
E = "error: {tmp}/byom.yaml: models[0].params."


def suite(model: str, params: str, files: tuple[str, ...] = ()):
    """A suite in the world's folder, and the files it names (relative paths: read from there)."""
    def setup(world: Path) -> None:
        for name in files:
            (world / name).write_bytes(NOT_A_NETWORK)
        (world / "mods").mkdir(exist_ok=True)
        (world / "mods" / "user_nets.py").write_text("WIDTH = 3\n\ndef build(*a):\n    pass\n")
        (world / "byom.yaml").write_text(SUITE.format(model=model, params=params))
    return setup


def keras_file(params: str, *files: str) -> dict:
    return {"setup": suite("keras-file", params, files)}


def python(factory: str) -> dict:
    return {"setup": suite("python", f'{{factory: "{factory}"}}'),
            "env": {"PYTHONPATH": "{tmp}/mods"}}


VALIDATE = ["validate", "{tmp}/byom.yaml"]
CASES = [
    Case("keras-file-sha256-mismatch", VALIDATE,
         f"{E}sha256: net.keras has sha256 {ACTUAL}, not the pinned '{PINNED}'",
         **keras_file(f"{{path: net.keras, sha256: '{PINNED}'}}", "net.keras")),
    Case("keras-file-sha256-mismatch-run", ["run", "{tmp}/byom.yaml", "--quiet"],
         f"{E}sha256: net.keras has sha256 {ACTUAL}, not the pinned '{PINNED}'",
         **keras_file(f"{{path: net.keras, sha256: '{PINNED}'}}", "net.keras")),
    Case("keras-file-sha256-not-hex", VALIDATE,
         E + "sha256: String should match pattern '^[0-9a-fA-F]{{64}}$', got 'abc123'",
         **keras_file("{path: net.keras, sha256: abc123}", "net.keras")),
    Case("keras-file-missing", VALIDATE,
         f"{E}path: no such file {{tmp}}/missing.keras, got 'missing.keras'",
         **keras_file(f"{{path: missing.keras, sha256: '{ACTUAL}'}}")),
    Case("keras-file-h5-without-opt-in", VALIDATE,
         f"{E}path: a legacy HDF5 file: re-save it as .keras, or set allow_legacy_h5: true to "
         "load it anyway, got 'net.h5'",
         **keras_file(f"{{path: net.h5, sha256: '{ACTUAL}'}}", "net.h5")),
    Case("keras-file-other-suffix", VALIDATE,
         f"{E}path: not a .keras file (nor a legacy .h5), got 'net.pt'",
         **keras_file(f"{{path: net.pt, sha256: '{ACTUAL}'}}", "net.pt")),
    Case("keras-file-bad-on-training", VALIDATE,
         f"{E}on_training: Input should be 'refuse', 'fine-tune' or 'from-scratch', "
         "got 'retrain'",
         **keras_file(f"{{path: net.keras, sha256: '{ACTUAL}', on_training: retrain}}",
                      "net.keras")),
    Case("python-factory-syntax", VALIDATE,
         f"{E}factory: expected 'package.module:function', got 'user_nets.build'",
         **python("user_nets.build")),
    Case("python-factory-no-module", VALIDATE,
         f"{E}factory: no module named 'no_such_nets' (is it installed or on PYTHONPATH?), "
         "got 'no_such_nets:build'", **python("no_such_nets:build")),
    Case("python-factory-no-attribute", VALIDATE,
         f"{E}factory: 'user_nets' has no attribute 'biuld', got 'user_nets:biuld'",
         **python("user_nets:biuld")),
    Case("python-factory-not-callable", VALIDATE,
         f"{E}factory: 'user_nets:WIDTH' is not callable (int)",
         **python("user_nets:WIDTH")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_model_input(case: Case, world: Path) -> None:
    run_case(case, world)
