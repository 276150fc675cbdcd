"""The pytest plugin of :mod:`bench.testing` (entry point ``pytest11: artbench``).

pytest loads it in every session of an environment where artbench is installed. It only
defines fixtures: importing it imports neither TensorFlow nor the built-in plugins, and a
session that uses none of its fixtures runs exactly as without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.testing.recorder import ACTIVE, HookRecorder


def _cache_dir(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's cache directory (kept between sessions), or a session directory when the
    cache plugin is off (``-p no:cacheprovider``)."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("artbench"))
    return tmp_path_factory.mktemp("artbench")


@pytest.fixture(scope="session")
def bench_tiny_data() -> Any:
    """300 training and 60 test digits (``.train``, ``.test``: DataSplits, float32 NHWC
    28x28x1 in [0, 1], 10 classes, read-only arrays), loaded once per session."""
    from bench.testing.data import tiny_data

    return tiny_data()


@pytest.fixture(scope="session")
def bench_tiny_model(request: pytest.FixtureRequest,
                     tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny trained Keras logits model on ``bench_tiny_data`` (about 82 % on its 60 test
    digits): trained once, then loaded from pytest's cache directory by content key."""
    from bench.testing.models import tiny_model

    return tiny_model(_cache_dir(request.config, tmp_path_factory))


@pytest.fixture
def bench_run_suite(tmp_path: Path) -> Callable[..., Any]:
    """``bench_run_suite(yaml_text, *args, **options)``: :func:`bench.testing.run_suite` in
    this test's ``tmp_path``."""
    from bench.testing.suite import run_suite

    def run(yaml_text: str, *args: str, **options: Any) -> Any:
        return run_suite(yaml_text, tmp_path, *args, **options)

    return run


@pytest.fixture
def bench_hook_recorder() -> Iterator[HookRecorder]:
    """A :class:`~bench.testing.HookRecorder` active for this test: the lifecycle hooks of the
    runs made by ``run_suite`` (or any ``load_plugins(["bench.testing.recorder"])``) are in
    ``.calls``."""
    recorder = HookRecorder()
    ACTIVE.append(recorder)
    try:
        yield recorder
    finally:
        ACTIVE.remove(recorder)
