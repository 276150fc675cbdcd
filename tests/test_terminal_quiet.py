"""TensorFlow's start-up chatter stays off the terminal unless ``bench run --verbose``; what
TensorFlow writes when its import fails or crashes still gets through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import DATA, REPO_ROOT

NOISE = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
         b"I0000 00:00:1795876057.744943    6489 port.cc:153] oneDNN custom operations are on.\n"
         b"W0000 00:00:1795876057.744999    6489 cpu_feature_guard.cc:227] some warning\n")
ERROR = b"E0000 00:00:1795876057.745000    6489 loader.cc:42] could not load libfoo.so\n"
FATAL = b"F0000 00:00:1795876057.745001    6489 cpu_check.cc:7] illegal instruction ahead\n"

FAKES = {
    "ok": "get_logger = lambda: __import__('logging').getLogger('tensorflow')\n",
    "fails": "raise ImportError('libtensorflow_framework.so.2: cannot open shared object')\n",
    "crashes": "import os\nos.abort()\n",
}


def fake_import(tmp_path: Path, kind: str) -> subprocess.CompletedProcess:
    """``quiet_tensorflow(import_now=True)`` on a stand-in ``tensorflow`` that writes C++-style
    log lines to file descriptor 2 (as TensorFlow's C++ code does), then behaves as ``kind``."""
    pkg = tmp_path / kind / "tensorflow"
    pkg.mkdir(parents=True)
    lines = NOISE + (b"" if kind == "ok" else ERROR if kind == "fails" else FATAL)
    (pkg / "__init__.py").write_text(f"import os\nos.write(2, {lines!r})\n" + FAKES[kind])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / kind), str(REPO_ROOT)])}
    code = ("from bench.quiet import quiet_tensorflow\nquiet_tensorflow(import_now=True)\n"
            "import sys; print('imported', file=sys.stderr)\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, env=env,
                          cwd=tmp_path, timeout=60)


def test_successful_import_drops_only_the_start_up_lines(tmp_path):
    res = fake_import(tmp_path, "ok")
    assert res.returncode == 0, res.stderr
    assert res.stderr == b"imported\n"


def test_failed_import_shows_the_error_lines_and_the_exception(tmp_path):
    res = fake_import(tmp_path, "fails")
    assert res.returncode == 1
    assert ERROR in res.stderr
    assert b"ImportError: libtensorflow_framework.so.2" in res.stderr
    assert b"oneDNN" not in res.stderr and b"absl::InitializeLog" not in res.stderr


def test_crash_during_import_still_shows_what_tensorflow_wrote(tmp_path):
    res = fake_import(tmp_path, "crashes")
    assert res.returncode != 0
    assert FATAL in res.stderr  # written by the filter process after ours died
    assert b"imported" not in res.stderr


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quiet")

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bench", "run", str(DATA / "tiny.yaml"), "--quiet",
             "--store", str(tmp / "s.sqlite"), "--cache-dir", str(tmp / "c"), *extra],
            capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
            env={k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ABSL_"))})

    return run(), run("--verbose")


def test_real_run_has_an_empty_stderr(tiny_runs):
    quiet, _ = tiny_runs
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert "stored as run 1" in quiet.stdout


def test_verbose_lets_tensorflow_speak(tiny_runs):
    _, verbose = tiny_runs
    assert verbose.returncode == 0, verbose.stderr
    assert "absl::InitializeLog" in verbose.stderr or "oneDNN" in verbose.stderr, verbose.stderr
    assert "stored as run 2" in verbose.stdout
