from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the `bench` subprocesses of the tests print tables as to a log (240 columns), whatever width
# the terminal (or pytest-xdist) that started pytest declares
os.environ.pop("COLUMNS", None)

#: test files that start Ray: their tests share one xdist worker and run one at a time (a local
#: Ray instance finds another one on the machine, and these tests count Ray's processes and
#: remove a cluster node)
RAY_FILES = ("test_executors.py", "test_executor_ray.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep ``slow`` tests out of the default run (``-m slow`` selects them); under
    pytest-xdist (``--dist loadgroup``, the default addopts) keep each file on one worker, so
    that its module fixtures (trained networks, the quick start's runs) are built once."""
    slow = "slow" in (config.getoption("-m") or "")
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords and not slow:
            item.add_marker(skip)
        name = item.path.name
        item.add_marker(pytest.mark.xdist_group("ray" if name in RAY_FILES else str(item.path)))
