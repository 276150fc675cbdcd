"""The built wheel carries what an installed `bench` needs outside a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.helpers import REPO_ROOT


def test_wheel_carries_the_default_suite_and_templates(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO_ROOT)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("artbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"bench/suites/quickstart.yaml", "bench/render/templates/report.html.j2",
            "bench_builtin/__init__.py"} <= names
    assert not any(n.startswith(("plugins/", "tests/")) for n in names)
    # installed (without dependencies) away from the checkout, the default suite resolves
    # to the packaged copy
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, timeout=300)
    out = subprocess.run(
        [sys.executable, "-c", "from bench.suite import default_suite_path as d; "
         "print(d(), d().is_file())"],
        env={"PYTHONPATH": str(target), "PATH": ""}, cwd=tmp_path, capture_output=True,
        text=True, check=True).stdout.split()
    assert out == [str(target / "bench" / "suites" / "quickstart.yaml"), "True"]
