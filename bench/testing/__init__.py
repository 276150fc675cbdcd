'''A testing kit for artbench plugin authors, installed with artbench as a pytest plugin.

Installing artbench registers the pytest plugin ``bench.testing.plugin`` (entry point
``pytest11: artbench``), so these fixtures exist in every test session, with no ``conftest.py``:

``bench_tiny_data`` (session)
    300 training and 60 test images of scikit-learn's bundled digits (``.train`` and ``.test``,
    :class:`~bench.interfaces.DataSplit`: float32 NHWC 28x28x1 in [0, 1], 10 classes,
    read-only arrays). Offline.
``bench_tiny_model`` (session)
    A tiny trained Keras **logits** model on that data (:class:`TinyNet`: two strided
    convolutions and a dense layer, 20 epochs of Adam; about 82 % accuracy on the 60 test
    digits, chance is 10 %). Trained once (a few seconds), then loaded from pytest's cache
    directory under a content key (recipe, data, Keras version).
``bench_run_suite``
    ``bench_run_suite(yaml_text, *args)``: :func:`run_suite` in the test's ``tmp_path``.
``bench_hook_recorder``
    A :class:`HookRecorder` active for the test: every lifecycle hook call
    (``bench_run_start``, ``bench_cell_finished``, ``bench_run_end``) of the runs made by
    ``run_suite``, with all its arguments, what a tracker plugin receives.

Contract checks, plain functions usable in any test; each raises ``AssertionError`` naming the
violated property (``check_attack(noise[eps=0.1]): within the declared bound: 3 of 16
adversarial examples exceed eps=0.1 in the Linf norm (by up to 0.05)``) and otherwise returns a
:class:`ContractReport` (``.checked``, ``.skipped`` with reasons, ``.measured``):

:func:`check_attack`
    traits consistent with ``bound()``, input not mutated, shape and dtype, finite and inside
    ``clip_values``, within the declared bound (the host's own :mod:`bench.checks`), seed
    determinism, batch-split invariance, targeted success on the tiny model when the attack is
    targeted and claims a large budget.
:func:`check_dataset`
    float32 NHWC images and int64 labels, pixels inside ``clip_values``, labels in range,
    TFDS-style slicing consistent with the whole split, a fingerprint stable across loads.
:func:`check_defense`
    applied through the host's real trainer and model cache: the deployed model outputs
    logits, a second application with the same parameters trains nothing (served from the
    cache), a parameter change gives a new cache key, ``traits()`` is a DefenseTraits.

A plugin author's test file (the example package's ``tests/`` has one)::

    from bench_example import UniformNoise

    from bench.testing import check_attack

    SUITE = """
    name: noise-smoke
    dataset: {name: digits, train: "train[:300]", test: test}
    models: [{name: cnn, params: {epochs: 1, optimizer: adam}}]
    defenses: [{name: none}]
    attacks: [{name: noise, params: {eps: [0.1, 0.3]}}]
    evaluation: {samples: 20, batch_size: 10, seed: 0}
    """

    def test_contract(bench_tiny_model):
        report = check_attack(UniformNoise, bench_tiny_model, params={"eps": 0.1},
                              batch_dependent=True)  # one noise draw per batch, documented
        assert "within the declared bound" in report.checked

    def test_in_a_suite(bench_run_suite, bench_hook_recorder):
        results = bench_run_suite(SUITE)
        assert [c["status"] for c in results.cells] == ["ok", "ok"]
        assert bench_hook_recorder.names()[-1] == "bench_run_end"

Importing this package (and the pytest plugin) imports neither TensorFlow nor the built-in
plugins: names load on first use.
'''

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ imports on first use
    from bench.testing.attacks import check_attack
    from bench.testing.data import TinyData, tiny_data
    from bench.testing.datasets import check_dataset
    from bench.testing.defenses import check_defense
    from bench.testing.models import TinyNet, tiny_model
    from bench.testing.recorder import HookCall, HookRecorder
    from bench.testing.report import ContractReport
    from bench.testing.suite import run_suite

__all__ = [
    "ContractReport", "HookCall", "HookRecorder", "TinyData", "TinyNet", "check_attack",
    "check_dataset", "check_defense", "run_suite", "tiny_data", "tiny_model",
]

_WHERE = {
    "ContractReport": "report", "HookCall": "recorder", "HookRecorder": "recorder",
    "TinyData": "data", "tiny_data": "data", "TinyNet": "models", "tiny_model": "models",
    "check_attack": "attacks", "check_dataset": "datasets", "check_defense": "defenses",
    "run_suite": "suite",
}


def __getattr__(name: str) -> Any:
    """Public names, imported on first use (keeps pytest's start-up fast)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'bench.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"bench.testing.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
