from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_input.harness import copy_world, make_world


@pytest.fixture(scope="session")
def world_template(tmp_path_factory) -> Path:
    """Made once per test session: a store with one finished run, and its model cache."""
    return make_world(tmp_path_factory.mktemp("bad-input-template") / "world")


@pytest.fixture
def world(world_template: Path, tmp_path: Path) -> Path:
    """A private copy of the template world for one case."""
    return copy_world(world_template, tmp_path / "world")
