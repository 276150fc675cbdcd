"""Executors side by side, in one run of this script (issue 8, section 5).

    python benchmarks/executors.py [--cells 10,100,1000] [--executors serial,process,ray]
                                   [--rows 2,8,20] [--quickstart]

For each executor and grid size: a grid of cheap FGSM cells (the tiny suite's CNN, cached
before the first timing) run through ``bench run`` in a fresh process; wall time, the cells'
own compute time (generate + evaluate, as stored), and the overhead per cell (wall time beyond
that compute, start-up included, divided by the cells; and between two grid sizes, which
removes start-up). Then the peak RSS of the serial executor on grids of 2, 8 and 20 rows (model
x defense: distillation at distinct temperatures), and optionally the quick start per executor.
Timings are single runs on a shared machine: compare the ratios of one run, not absolute times.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "tests" / "data" / "tiny.yaml")
OPTIONS = {"serial": [], "process": ["--executor", "process", "--workers", "2"],
           "ray": ["--executor", "ray"]}


def bench(args: list[str], store: Path, cache: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS in MiB of the bench process) of one ``bench run``."""
    env = {**os.environ, "ARTBENCH_STORE": str(store), "ARTBENCH_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", *args, "--quiet"], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"bench run {' '.join(args)} failed ({proc.returncode}): {err}")
    return wall, usage.ru_maxrss // 1024


def compute_seconds(store: Path) -> float:
    """Generate + evaluate seconds of the latest run's white-box cells, as stored."""
    db = sqlite3.connect(store)
    (seconds,) = db.execute(
        "SELECT COALESCE(SUM(t.seconds), 0) FROM timings t JOIN cells c ON c.id = t.cell "
        "WHERE c.run_id = (SELECT MAX(id) FROM runs) AND t.phase IN ('generate', 'evaluate')"
    ).fetchone()
    db.close()
    return float(seconds)


def fgsm_grid(n: int) -> list[str]:
    eps = ", ".join(f"{0.5 * (i + 1) / n:.6f}" for i in range(n))
    return [TINY, "--set", f"attacks=[{{name: fgsm, params: {{eps: [{eps}]}}}}]"]


def overhead(executors: list[str], sizes: list[int], tmp: Path, cache: Path) -> None:
    print("\n## per-cell overhead: FGSM cells on one cached network (20 samples each)")
    print(f"{'executor':9} {'cells':>6} {'wall s':>8} {'compute s':>10} {'wall/cell ms':>13} "
          f"{'overhead/cell ms':>17} {'marginal/cell ms':>17}")
    for name in executors:
        previous: tuple[int, float] | None = None
        for n in sizes:
            store = tmp / f"{name}-{n}.sqlite"
            wall, _ = bench([*fgsm_grid(n), *OPTIONS[name]], store, cache)
            compute = compute_seconds(store)
            marginal = (f"{(wall - previous[1]) / (n - previous[0]) * 1e3:17.1f}"
                        if previous else f"{'':>17}")
            print(f"{name:9} {n:6d} {wall:8.1f} {compute:10.1f} {wall / n * 1e3:13.1f} "
                  f"{(wall - compute) / n * 1e3:17.1f} {marginal}", flush=True)
            previous = (n, wall)


def memory(rows: list[int], tmp: Path, cache: Path) -> None:
    print("\n## peak RSS of the serial executor by rows (2 FGSM cells per row)")
    print(f"{'rows':>5} {'peak RSS MiB':>13} {'wall s':>8}")
    for n in rows:
        temps = ", ".join(f"{{name: distillation, params: {{temperature: {t}}}}}"
                          for t in range(2, n + 1))
        wall, rss = bench([TINY, "--set", f"defenses=[{{name: none}}, {temps}]"],
                          tmp / f"rows-{n}.sqlite", cache)
        print(f"{n:5d} {rss:13d} {wall:8.1f}", flush=True)


def quickstart(executors: list[str], tmp: Path, cache: Path) -> None:
    print("\n## the quick start (suites/quickstart.yaml), warm cache")
    bench([str(ROOT / "suites" / "quickstart.yaml")], tmp / "warm.sqlite", cache)
    for name in executors:
        wall, rss = bench([str(ROOT / "suites" / "quickstart.yaml"), *OPTIONS[name]],
                          tmp / f"qs-{name}.sqlite", cache)
        print(f"{name:9} {wall:8.1f} s wall, driver peak RSS {rss} MiB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", default="10,100,1000")
    ap.add_argument("--executors", default="serial,process,ray")
    ap.add_argument("--rows", default="2,8,20")
    ap.add_argument("--quickstart", action="store_true")
    args = ap.parse_args()
    executors = args.executors.split(",")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cache = tmp / "cache"
        bench(fgsm_grid(1), tmp / "warm.sqlite", cache)  # trains the network once
        overhead(executors, [int(n) for n in args.cells.split(",")], tmp, cache)
        if args.rows:
            memory([int(n) for n in args.rows.split(",")], tmp, cache)
        if args.quickstart:
            quickstart(executors, tmp, cache)


if __name__ == "__main__":
    main()
