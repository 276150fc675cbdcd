from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers import machine_lock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the `bench` subprocesses of the tests print tables as to a log (240 columns), whatever width
# the terminal (or a pytest plugin) that started pytest declares
os.environ.pop("COLUMNS", None)


#: the files that take minutes (module fixtures that train; real runs killed and resumed),
#: longest first: they run first, so that the README's ``pytest -n auto --dist loadfile``
#: workers finish together instead of one of them starting the quick start's last
FIRST = ("test_quickstart.py", "test_resume.py", "test_executors.py", "test_store.py",
         "test_emnist_suite.py", "test_executor_ray.py", "test_cli.py", "test_emnist_cw_l0.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The files of FIRST first (each file's tests stay together, in order); keep ``slow``
    tests out of the default run (``-m slow`` selects them)."""
    items.sort(key=lambda item: FIRST.index(item.path.name) if item.path.name in FIRST
               else len(FIRST))
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def ray_machine() -> Iterator[None]:
    """For a test that starts Ray: one at a time per machine. Such tests count Ray's processes
    machine-wide, and a local ``ray.init()`` joins a cluster that another test started."""
    with machine_lock("ray"):
        yield
