"""docs/plugins.md is executable: its file blocks (``# my_plugins.py``, ``# suite.yaml``,
``# test_my_plugins.py``) are written out, the suite runs with the plugin module through the
real CLI, and the plugin's own tests run under pytest with the bench.testing kit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

DOC = REPO_ROOT / "docs" / "plugins.md"
BLOCK = re.compile(r"```(?:python|yaml)\n# (\S+)\n(.*?)```", re.S)


def files() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, body in BLOCK.findall(DOC.read_text()):
        out[name] = out.get(name, "") + body + "\n"
    return out


def test_the_guide_defines_a_whole_package():
    assert set(files()) == {"my_plugins.py", "suite.yaml", "test_my_plugins.py"}


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("docs_plugins")
    for name, text in files().items():
        (root / name).write_text(text)
    return root


def run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(cwd), **env})


def test_the_suite_runs_with_the_guides_plugins(package: Path):
    bench = [sys.executable, "-m", "bench"]
    store, cache = str(package / "store.sqlite"), str(package / "cache")
    done = run([*bench, "run", "suite.yaml", "-p", "my_plugins.py", "--quiet", "--store", store,
                "--cache-dir", cache], package)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(run([*bench, "report", "-f", "json", "--store", store], package).stdout)
    cells = {(c["defense_id"], c["attack_id"]): c for c in report["cells"]
             if c["status"] == "ok" and c["source_row"] is None}
    assert len(cells) == 4 * 3, sorted(cells)

    def success(defense: str, attack: str) -> float:
        return float(cells[(defense, attack)]["metrics"]["success_rate"])

    # the plugin's attack works and is compared like a built-in: traits stored
    assert success("none", "my-pgd[eps=0.3]") > 0.5
    assert cells[("none", "my-pgd[eps=0.3]")]["plugins"]["attack"]["traits"]["eps"] == 0.3
    # BPDA breaks the quantisation the stopped gradient hides
    assert (success("pixel-grid[gradient=bpda]", "my-pgd[eps=0.3]")
            > success("pixel-grid[gradient=none]", "my-pgd[eps=0.3]") + 0.3)
    flags = {f["name"] for c in cells.values() if c["defense_id"] == "pixel-grid[gradient=none]"
             for f in c["info"].get("flags", []) if f["status"] == "warn"}
    assert "no-gradient-by-design" in flags
    # the trackers of the suite: the built-in jsonl beside suite.yaml, the guide's own
    lines = [json.loads(line) for line in (package / "runs.jsonl").read_text().splitlines()]
    assert [(d["cell_id"], d["status"], d["error"]) for d in lines] == [
        (c["cell_id"], "ok", None) for c in report["cells"]]
    assert all(d["timings"]["generate"] > 0 and "success_rate" in d["metrics"] for d in lines)
    tsv = (package / "cells.tsv").read_text().splitlines()
    assert tsv == [f"ok\t{c['cell_id']}\t" for c in report["cells"]]
    # the guide's LaTeX reporter with its options
    latex = [*bench, "report", "-f", "latex", "--store", store, "-p", "my_plugins.py"]
    done = run([*latex, "-o", "table.tex", "--opt", "digits=2", "--opt",
                "caption=Robustness on stripes"], package)
    assert done.returncode == 0, done.stderr
    tex = (package / "table.tex").read_text()
    assert r"\caption{Robustness on stripes}" in tex
    pgd = cells[("none", "my-pgd[eps=0.3]")]["metrics"]["success_rate"]
    row = next(line for line in tex.splitlines() if line.startswith("cnn & none & "))
    assert f"{100 * pgd:.2f}\\%" in row.split(" & ")
    bad = run([*latex, "--opt", "digits=7"], package)
    assert (bad.returncode, bad.stderr.strip()) == (4, "error: reporter 'latex': --opt digits: "
                                                    "Input should be less than or equal to 4, "
                                                    "got 7")


def test_the_guides_tests_pass_with_the_testing_kit(package: Path):
    done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-o",
                f"cache_dir={REPO_ROOT / '.pytest_cache'}", "test_my_plugins.py"], package)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
