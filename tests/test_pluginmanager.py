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


def write_plugin(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_misspelled_hook_is_refused_with_did_you_mean():
    spec = str(DATA / "plugins" / "misspelled_hook.py")
    with pytest.raises(PluginError) as exc:
        load_plugins([spec])
    assert str(exc.value) == (f"-p {spec}: unknown hook 'bench_register_attack'. "
                              "Did you mean: bench_register_attacks?")


def test_hook_with_an_argument_the_spec_lacks_is_one_line(tmp_path):
    spec = write_plugin(tmp_path, "badargs.py", "from bench import hookimpl\n\n\n@hookimpl\n"
                        "def bench_cell_finished(run_id, cell, status):\n    pass\n")
    with pytest.raises(PluginError) as exc:
        load_plugins([spec])
    text = str(exc.value)
    assert text.startswith(f"-p {spec}: Plugin 'artbench_local_badargs' for hook "
                           "'bench_cell_finished' ") and "\n" not in text
    assert "{'cell'}" in text


def test_unknown_block_name_lists_what_can_be_blocked(monkeypatch):
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    with pytest.raises(PluginError, match=r"^-p no:builtn: no plugin named 'builtn'\. Did you "
                                          r"mean: builtin\? Can be blocked: (.*, )?builtin"):
        load_plugins(["no:builtn"])
    spec = str(DATA / "plugins" / "recorder.py")
    with pytest.raises(PluginError, match=r"Can be blocked: .*artbench_local_recorder"):
        load_plugins([spec, "no:nothing_like_it"])
    # a one-off can be blocked by its name
    plugins = load_plugins([spec, "no:artbench_local_recorder"])
    assert "artbench_local_recorder" not in [p.name for p in plugins.loaded]


@pytest.mark.parametrize(("name", "text", "message"), [
    ("imports.py", "import no_such_dependency_xyz\n",
     "-p {spec}: import failed: ModuleNotFoundError: No module named 'no_such_dependency_xyz'"),
    ("syntax.py", "from bench import hookimpl\n\ndef f(:\n    pass\n",
     "-p {spec}: syntax error at {spec}:3: invalid syntax"),
    ("raises.py", "raise RuntimeError('not today')\n",
     "-p {spec}: import failed: RuntimeError: not today"),
    ("exits.py", "import sys\nsys.exit(5)\n", "-p {spec}: import failed: SystemExit: 5"),
    ("empty.py", "def helper():\n    return []\n",
     "-p {spec}: no hook implementations in it (a plugin defines functions decorated with "
     "@hookimpl from bench)"),
    ("undecorated.py", "def bench_register_attacks():\n    return []\n",
     "-p {spec}: function 'bench_register_attacks' is not decorated with @hookimpl from bench, "
     "so it would never be called"),
])
def test_broken_one_off_file_is_one_line(tmp_path, name, text, message):
    spec = write_plugin(tmp_path, name, text)
    with pytest.raises(PluginError) as exc:
        load_plugins([spec])
    assert str(exc.value) == message.format(spec=spec)
    assert f"artbench_local_{name[:-3]}" not in sys.modules


def test_a_raising_observer_hook_stops_neither_the_others_nor_the_caller(tmp_path, monkeypatch):
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("RECORDER_LOG", str(log))
    monkeypatch.setenv("RAISING_HOOKS", "bench_cell_finished")
    plugins = load_plugins([str(DATA / "plugins" / "misbehaving.py"),
                            str(DATA / "plugins" / "recorder.py")])
    failures = plugins.notify("bench_cell_finished", run_id=1, cell_id="c", status="ok",
                              metrics={})
    assert [(name, str(exc)) for name, exc in failures] == [
        ("artbench_local_misbehaving", "bench_cell_finished is broken")]
    assert json.loads(log.read_text()) == {"event": "cell_finished", "cell": "c", "status": "ok"}
