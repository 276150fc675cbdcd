"""artbench's built-in plugins.

An ordinary plugin: it uses only the public API (``bench.hookimpl``, ``bench.interfaces``) and is
registered through the ``artbench`` entry-point group exactly like a third-party package.
"""

from __future__ import annotations

from bench import hookimpl

__version__ = "0.1.0"


@hookimpl(trylast=True)
def bench_register_datasets():  # type: ignore[no-untyped-def]
    from bench_builtin.datasets.digits import Digits
    from bench_builtin.datasets.emnist import Emnist

    return [Emnist, Digits]


@hookimpl(trylast=True)
def bench_register_models():  # type: ignore[no-untyped-def]
    from bench_builtin.models.cnn import Cnn
    from bench_builtin.models.keras_file import KerasFile
    from bench_builtin.models.python_model import PythonModel

    return [Cnn, KerasFile, PythonModel]


@hookimpl(trylast=True)
def bench_register_defenses():  # type: ignore[no-untyped-def]
    from bench_builtin.defenses.adversarial_training import AdversarialTraining
    from bench_builtin.defenses.bit_depth import BitDepth
    from bench_builtin.defenses.distillation import Distillation
    from bench_builtin.defenses.none import NoDefense

    return [NoDefense, Distillation, AdversarialTraining, BitDepth]


@hookimpl(trylast=True)
def bench_register_attacks():  # type: ignore[no-untyped-def]
    from bench_builtin.attacks.art import ATTACKS as ART_ATTACKS
    from bench_builtin.attacks.art_autoattack import AutoAttack
    from bench_builtin.attacks.art_bounded import ATTACKS as BOUNDED_ATTACKS
    from bench_builtin.attacks.art_minimum_norm import ATTACKS as MIN_NORM_ATTACKS
    from bench_builtin.attacks.native import ATTACKS as NATIVE_ATTACKS
    from bench_builtin.attacks.noise import RandomNoise

    return [*ART_ATTACKS, *BOUNDED_ATTACKS, AutoAttack, *MIN_NORM_ATTACKS, *NATIVE_ATTACKS,
            RandomNoise]


@hookimpl(trylast=True)
def bench_register_reporters():  # type: ignore[no-untyped-def]
    from bench_builtin.reporters import REPORTERS

    return REPORTERS


@hookimpl(trylast=True)
def bench_register_executors():  # type: ignore[no-untyped-def]
    from bench_builtin.executors.process import Process
    from bench_builtin.executors.ray import Ray  # imports ray only when a run starts
    from bench_builtin.executors.serial import Serial

    return [Serial, Process, Ray]


@hookimpl(trylast=True)
def bench_register_trackers():  # type: ignore[no-untyped-def]
    from bench_builtin.trackers.jsonl import Jsonl

    return [Jsonl]
