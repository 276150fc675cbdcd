"""The example package's own tests (examples/bench-example-plugin/tests, written with
bench.testing only) pass, run by pytest in a subprocess as the package's author would run them:
the package installed by pip (into a directory of its own, not into this virtual environment),
bench.testing's fixtures found through artbench's pytest11 entry point."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "bench-example-plugin"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    target = tmp_path_factory.mktemp("example-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)], check=True, timeout=300)
    return target


def test_the_example_package_tests_pass_with_bench_testing(example_site, request, tmp_path):
    # pytest's cache of this session: the tiny model is trained once, by whichever run is first
    cache = request.config.cache.mkdir("artbench-example") if request.config.cache else tmp_path
    env = {**os.environ, "PYTHONPATH": str(example_site), "ARTBENCH_STORE": str(tmp_path / "s"),
           "ARTBENCH_CACHE_DIR": str(tmp_path / "models")}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o",
         f"cache_dir={cache}", "--basetemp", str(tmp_path / "basetemp")],
        cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout  # with no conftest.py: the fixtures come from artbench
