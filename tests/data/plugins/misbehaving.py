"""A -p plugin whose attacks, defense and model misbehave; each must fail only its own cell or row.

``-p misbehaving.py`` with ``attacks=[{name: exit}]`` and so on; RAISING_HOOKS (an environment
variable, comma-separated hook names) makes those lifecycle hooks raise.
"""

import os
import sys

import numpy as np

from bench import hookimpl
from bench.interfaces import Attack, AttackOutput, Defense, Model


class Exit(Attack):
    """Calls sys.exit(3) in the middle of a run."""

    name = "exit"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        sys.exit(3)


class Interrupt(Attack):
    """Raises KeyboardInterrupt itself (no signal was delivered)."""

    name = "interrupt"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        raise KeyboardInterrupt


class NanBound(Attack):
    """Promises an eps of NaN and moves far: used to skip the eps check."""

    name = "nan-bound"

    def bound(self):
        return ("inf", float("nan"))

    def generate(self, model, x, y, targets, clip_values, num_classes):
        return AttackOutput(np.clip(x + 0.5, *clip_values))


class BadInit(Attack):
    name = "bad-init"

    def __init__(self, params=None):
        raise RuntimeError("no GPU here")


class Slow(Attack):
    """Sleeps, after writing SLOW_MARKER: a real SIGINT arrives while it runs."""

    name = "slow"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        import time

        with open(os.environ["SLOW_MARKER"], "a") as f:
            f.write(f"started {os.getpid()}\n")
        time.sleep(float(os.environ.get("SLOW_SECONDS", "60")))
        return AttackOutput(x.copy())


class BadInitDefense(Defense):
    name = "bad-init"

    def __init__(self, params=None):
        raise ValueError("defense cannot start")


class ExitDefense(Defense):
    name = "exit"

    def apply(self, trainer):
        sys.exit("defense gave up")


class BadInitModel(Model):
    name = "bad-init"

    def __init__(self, params=None):
        raise RuntimeError("model cannot start")


class Hang(Attack):
    """Never returns (a deadlock, an endless loop): only a time limit stops it."""

    name = "hang"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        import time

        while True:
            time.sleep(1)


class HardExit(Attack):
    """Ends the process at once, as native code calling exit() would."""

    name = "hard-exit"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        os._exit(7)


class SelfKill(Attack):
    """SIGKILL, as the OOM killer sends it to a process that allocated too much."""

    name = "oom"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


class Segfault(Attack):
    """Dereferences a null pointer in native code."""

    name = "segfault"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        import ctypes

        ctypes.string_at(0)


class WrongShape(Attack):
    name = "wrong-shape"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        return AttackOutput(x[:, :-1].copy())


class NanOutput(Attack):
    name = "nan-output"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        return AttackOutput(np.full_like(x, np.nan))


class OutOfRange(Attack):
    name = "out-of-range"

    def generate(self, model, x, y, targets, clip_values, num_classes):
        return AttackOutput(x + 2.0)


@hookimpl
def bench_register_attacks():
    return [Exit, Interrupt, NanBound, BadInit, Slow, Hang, HardExit, SelfKill, Segfault,
            WrongShape, NanOutput, OutOfRange]


@hookimpl
def bench_register_defenses():
    return [BadInitDefense, ExitDefense]


@hookimpl
def bench_register_models():
    return [BadInitModel]


def _maybe_raise(hook):
    if hook in os.environ.get("RAISING_HOOKS", "").split(","):
        if hook == "bench_run_end":
            sys.exit(2)
        raise RuntimeError(f"{hook} is broken")


@hookimpl
def bench_run_start(run_id, suite, cell_ids):
    _maybe_raise("bench_run_start")


@hookimpl
def bench_cell_finished(run_id, cell_id, status, metrics):
    _maybe_raise("bench_cell_finished")


@hookimpl
def bench_run_end(run_id, status, summary):
    _maybe_raise("bench_run_end")
