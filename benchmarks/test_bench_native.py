"""pytest-benchmark benchmarks of the native engine (``pytest benchmarks --benchmark-only``).

Same 100 EMNIST-shaped inputs, matched iterations; ART runs on fewer inputs (it takes seconds
per image) and is compared per image. ``benchmarks/ratios.py`` prints the ratios of one run.
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_builtin.native.cw_l2 import cw_l2
from bench_builtin.native.ifgsm import ifgsm
from common import BIM, L0, L2, LINF, art_classifier, floor_fn, native_cw, setup

N_ART = {"l2": 5, "linf": 5, "l0": 2}  # ART's L0 takes about 90 s per image here


@pytest.fixture(scope="module")
def env():
    return setup()


def test_floor_forward_backward(benchmark, env) -> None:
    model, x, y = env
    benchmark(floor_fn(model, x, y))


def test_ifgsm_100_iterations(benchmark, env) -> None:
    model, x, y = env
    run = lambda: ifgsm(model, x, y, 47, targeted=False, eps=0.01, iterations=100)  # noqa: E731
    run()
    benchmark(run)


def test_cw_l2_100_iterations(benchmark, env) -> None:
    model, x, y = env
    run = lambda: cw_l2(model, x, y, 47, targeted=False, iterations=100,  # noqa: E731
                        binary_search_steps=1, abort_early=False)
    run()
    benchmark(run)


@pytest.mark.parametrize("impl", ["native", "art"])
def test_bim_vs_ifgsm(benchmark, env, impl: str) -> None:
    from art.attacks.evasion import BasicIterativeMethod

    model, x, y = env
    if impl == "native":
        run = lambda: ifgsm(model, x, y, 47, targeted=False, eps=BIM["eps"],  # noqa: E731
                            iterations=BIM["max_iter"])
    else:
        bim = BasicIterativeMethod(art_classifier(model), eps=BIM["eps"],
                                   eps_step=BIM["eps"] / BIM["max_iter"],
                                   max_iter=BIM["max_iter"], batch_size=100, verbose=False)
        run = lambda: bim.generate(x, np.eye(47, dtype=np.float32)[y])  # noqa: E731
    run()
    benchmark.pedantic(run, rounds=3)


@pytest.mark.parametrize("norm", ["l2", "linf", "l0"])
@pytest.mark.parametrize("impl", ["native", "art"])
def test_cw_vs_art(benchmark, env, norm: str, impl: str) -> None:
    from art.attacks.evasion import CarliniL0Method, CarliniL2Method, CarliniLInfMethod

    model, x, y = env
    if impl == "native":
        fn = lambda: native_cw(norm, model, x, y)  # noqa: E731
        fn()
        benchmark.extra_info["images"] = len(x)
    else:
        cls, hp = {"l2": (CarliniL2Method, L2), "linf": (CarliniLInfMethod, LINF),
                   "l0": (CarliniL0Method, L0)}[norm]
        n_art = N_ART[norm]
        attack = cls(art_classifier(model), batch_size=n_art, verbose=False, **hp)
        xs, ys = x[:n_art], np.eye(47, dtype=np.float32)[y[:n_art]]
        fn = lambda: attack.generate(xs, ys)  # noqa: E731
        benchmark.extra_info["images"] = n_art
    benchmark.pedantic(fn, rounds=1)
