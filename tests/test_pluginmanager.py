"""Entry-point discovery, tested with a real pip-installed example package."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import PluginError
from bench.pluginmanager import AUTOLOAD_ENV, load_plugins
from tests.helpers import DATA, REPO_ROOT


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    """examples/bench-example-plugin, installed by pip into a directory of its own."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(REPO_ROOT / "examples" / "bench-example-plugin")],
        check=True,
    )
    return target


@pytest.fixture
def with_example(example_site, monkeypatch):
    monkeypatch.syspath_prepend(str(example_site))
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    return example_site


def test_builtins_come_through_the_entry_point_group(monkeypatch):
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    plugins = load_plugins()
    builtin = next(p for p in plugins.loaded if p.name == "builtin")
    assert builtin.distribution == "artbench"
    assert set(builtin.provides["attack"]) >= {"fgsm", "bim", "cw-l2", "cw-linf"}
    assert set(builtin.provides["dataset"]) == {"emnist", "digits"}
    assert plugins.registry("attack").provider("fgsm") == "builtin (artbench 0.1.0)"


def test_installed_third_party_package_is_discovered(with_example):
    plugins = load_plugins()
    assert "noise" in plugins.registry("attack")
    example = next(p for p in plugins.loaded if p.name == "example")
    assert (example.distribution, example.version) == ("bench-example-plugin", "0.1.0")
    assert example.provides == {"attack": ["noise"]}


def test_autoload_off_keeps_builtins_only(with_example, monkeypatch):
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    plugins = load_plugins()
    assert "noise" not in plugins.registry("attack")
    assert "fgsm" in plugins.registry("attack")


def test_block_with_no_prefix(with_example):
    plugins = load_plugins(["no:example"])
    assert "noise" not in plugins.registry("attack")


def test_one_off_plugin_by_path_and_duplicates(monkeypatch):
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    plugins = load_plugins([str(DATA / "plugins" / "broken_attack.py")])
    assert plugins.registry("attack").provider("broken").startswith("artbench_local_broken")
    with pytest.raises(PluginError) as exc:
        load_plugins([str(DATA / "plugins" / "duplicate_fgsm.py")])
    assert str(exc.value) == (
        "Duplicate attack 'fgsm': provided by both builtin (artbench 0.1.0) and "
        f"artbench_local_duplicate_fgsm (-p {DATA / 'plugins' / 'duplicate_fgsm.py'} local)"
    )


def test_one_off_errors():
    with pytest.raises(PluginError, match=r"^-p nothere\.py: no such plugin file$"):
        load_plugins(["nothere.py"])
    with pytest.raises(PluginError, match=r"^-p no_such_module_xyz: cannot import module"):
        load_plugins(["no_such_module_xyz"])


def test_bench_plugins_command_lists_the_installed_package(example_site):
    env = {"PYTHONPATH": str(example_site), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "bench", "plugins"], capture_output=True,
                         text=True, env=env, check=True).stdout
    assert "bench-example-plugin" in out and "noise" in out
    assert "Uniform random noise" in out


def test_readme_plugin_example_runs_in_a_suite(example_site, tmp_path):
    """The README's plugin example (examples/bench-example-plugin), installed, in a real run."""
    env = {**os.environ, "PYTHONPATH": str(example_site),
           "ARTBENCH_STORE": str(tmp_path / "s.sqlite"), "ARTBENCH_CACHE_DIR": str(tmp_path / "c")}
    res = subprocess.run(
        [sys.executable, "-m", "bench", "run", str(DATA / "tiny.yaml"), "--quiet",
         "--set", "attacks=[{name: noise, params: {eps: 0.05}}]"],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    report = subprocess.run([sys.executable, "-m", "bench", "report", "-f", "json"],
                            capture_output=True, text=True, env=env, check=True).stdout
    [cell] = json.loads(report)["cells"]
    assert cell["attack_id"] == "noise" and cell["status"] == "ok"
    assert cell["plugins"]["attack"]["provider"] == "example (bench-example-plugin 0.1.0)"
    linf = [r[0] for r in sqlite3.connect(tmp_path / "s.sqlite").execute(
        "SELECT linf FROM samples")]
    assert len(linf) == 20 and all(0.04 < v <= 0.05 + 1e-6 for v in linf), linf
