"""Test helpers: registries filled with small in-test plugin classes."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pluggy
from pydantic import Field

from bench import PROJECT, hookspecs
from bench.interfaces import (
    Attack,
    AttackParams,
    Dataset,
    Defense,
    DefenseTraits,
    Model,
    Params,
    Reporter,
)
from bench.pluginmanager import Plugins
from bench.registry import Registry

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_EMNIST = REPO_ROOT.parent / "shared" / "data" / "emnist"
DATA = Path(__file__).resolve().parent / "data"


@contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """Held by one test at a time on this machine, across pytest-xdist workers and concurrent
    sessions (an flock on a file in the temporary directory, released if the holder dies)."""
    with open(Path(tempfile.gettempdir()) / f"artbench-tests-{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class CnnLikeParams(Params):
    epochs: int = Field(default=1, gt=0)


class FakeModel(Model):
    name = "cnn"
    Params = CnnLikeParams


class TempParams(Params):
    temperature: float = Field(default=1.0, gt=0)


class FakeDistillation(Defense):
    name = "distillation"
    Params = TempParams


class FakeNone(Defense):
    name = "none"

    def traits(self) -> DefenseTraits:
        return DefenseTraits(kind="none")


class EpsParams(AttackParams):
    eps: float = Field(default=0.3, ge=0)
    norm: Literal["inf", 2] = "inf"
    layers: list[int] = Field(default_factory=list)


class FakeFgsm(Attack):
    name = "fgsm"
    Params = EpsParams


class FakeCw(Attack):
    name = "cw-l2"


class FakeDataset(Dataset):
    name = "digits"


def make_plugins(**extra: list[type[Any]]) -> Plugins:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    classes: dict[str, list[type[Any]]] = {
        "dataset": [FakeDataset], "model": [FakeModel],
        "defense": [FakeNone, FakeDistillation], "attack": [FakeFgsm, FakeCw],
        "reporter": [], "executor": [], "tracker": [],
    }
    for kind, more in extra.items():
        classes[kind] += more
    regs: dict[str, Registry[Any]] = {}
    for kind, lst in classes.items():
        reg: Registry[Any] = Registry(kind)
        for cls in lst:
            reg.add(cls, "tests")
        reg.freeze()
        regs[kind] = reg
    return Plugins(pm, regs, [])


def run_serially(plan: Any, plugins: Plugins, store: Any, cache: Any, progress: Any) -> Any:
    """Run ``plan`` in this process with the built-in serial executor (no worker spec needed:
    the plugins of ``make_plugins`` exist in this process only)."""
    from bench_builtin.executors.serial import Serial

    from bench.run.driver import Driver
    from bench.run.executor import WorkerSpec

    spec = WorkerSpec((), False, {}, plan.source, str(cache.root), ".")
    return Driver(plan, plugins, store, cache, progress, Serial(), spec).run()


__all__ = ["Reporter", "make_plugins", "run_serially"]
