"""``run_suite``: a suite run in isolation, exactly as ``bench run`` runs it, in this process."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from bench.testing import recorder


def _results(store_path: Path) -> Any:
    """The stored run's results (:class:`bench.results.model.RunResults`)."""
    from bench.results.model import load_results
    from bench.results.store import Store

    return load_results(Store(store_path, readonly=True), None)


def run_suite(yaml_text: str, tmp_path: Path | str, *args: str,
              cache_dir: Path | str | None = None, allow_failures: bool = False) -> Any:
    """Run the suite ``yaml_text`` with ``bench run`` in this process and return its results.

    Everything stays in ``tmp_path``: the suite file, the store (``bench.sqlite``, one run per
    call) and the model cache (``cache/``, shared by the calls with the same ``tmp_path``;
    ``cache_dir`` chooses another, e.g. one shared by a module's tests). Plugins load as for the
    command line: installed entry points, plus ``args`` such as ``"-p", "my_plugin.py"``; any
    other ``bench run`` option goes in ``args`` too (``"--set", "evaluation.samples=5"``,
    ``"--executor", "process"``). While a ``bench_hook_recorder`` is active it sees the run's
    lifecycle hooks.

    Returns the run's results (:class:`bench.results.model.RunResults`: ``.cells``, ``.rows``,
    ``.run``, ``.failures()``, ``.threats``). A command-line error (a bad suite, an unknown
    plugin) raises ``AssertionError`` with the error line; failed cells raise it too, naming
    each cell and its error, unless ``allow_failures=True``.
    """
    from rich.console import Console

    from bench.cli import build_parser, cmd_run
    from bench.errors import BenchError

    root = Path(tmp_path)
    root.mkdir(parents=True, exist_ok=True)
    n = 1 + sum(1 for _ in root.glob("suite-*.yaml"))
    suite = root / f"suite-{n}.yaml"
    suite.write_text(yaml_text)
    store = root / "bench.sqlite"
    argv = ["run", str(suite), "--store", str(store), "--quiet",
            "--cache-dir", str(cache_dir if cache_dir is not None else root / "cache"), *args]
    if recorder.ACTIVE:
        argv += ["-p", recorder.MODULE]
    namespace = build_parser().parse_args(argv)
    try:  # as bench.cli.main runs it; the printed report goes nowhere, the results are returned
        code = int(cmd_run(namespace, Console(file=io.StringIO(), width=240)))
    except BenchError as exc:
        raise AssertionError(f"bench {' '.join(argv)} exited with {int(exc.exit_code)}:\n"
                             f"error: {exc}") from None
    results = _results(store)
    if code == 1 and not allow_failures:
        failed = "\n".join(f"  {cell_id}: {error}" for cell_id, error in results.failures())
        raise AssertionError(f"cells failed in {suite.name} (allow_failures=True returns "
                             f"them):\n{failed}")
    return results
