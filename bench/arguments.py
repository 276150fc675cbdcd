"""The ``bench`` command line's arguments: one subcommand per verb (see :mod:`bench.cli`)."""

from __future__ import annotations

import argparse

from bench import __version__


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", dest="plugins", action="append", default=[], metavar="PLUGIN",
                   help="load a plugin module or .py file; '-p no:NAME' blocks one")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="Benchmark adversarial robustness: model x defense x attack.")
    parser.add_argument("--version", action="version", version=f"artbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a suite and store its results")
    run.add_argument("suite", nargs="?", help="suite YAML (default: the built-in quickstart)")
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="PATH=VALUE", help="override a suite field, e.g. models[0].params."
                     "epochs=2 or 'attacks[cw-l2].samples=5'")
    run.add_argument("--limit", type=int, metavar="N", help="cap evaluation samples at N")
    run.add_argument("--store", help="SQLite result store (default: $ARTBENCH_STORE or the "
                     "per-user data directory)")
    run.add_argument("--cache-dir", help="trained-model cache (default: $ARTBENCH_CACHE_DIR or "
                     "the per-user cache directory)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    run.add_argument("--resume", nargs="?", const="", metavar="RUN_ID",
                     help="finish an earlier run in place: the given one, or the latest run of "
                     "this suite with the same configuration; runs only the cells that are "
                     "missing or not ok, trains nothing that is cached")
    run.add_argument("--executor", "-x", default="serial", metavar="NAME",
                     help="where tasks run: serial (default: this process), process (a local "
                     "pool of worker processes), or an executor plugin")
    run.add_argument("--workers", "-j", type=int, metavar="N",
                     help="worker processes of --executor process (default: one per CPU)")
    run.add_argument("--executor-param", dest="executor_params", action="append", default=[],
                     metavar="KEY=VALUE", help="a parameter of the executor (see `bench "
                     "schema`), e.g. num_cpus=0.5 or max_retries=0 for ray")
    run.add_argument("--address", metavar="ADDR",
                     help="the cluster an executor joins (--executor ray: a Ray address; "
                     "default: start a local instance)")
    run.add_argument("--cell-timeout", type=float, metavar="SECONDS",
                     help="stop a cell after this long and store it as 'timeout' (overrides "
                     "evaluation.cell_timeout; enforced by --executor process)")
    run.add_argument("--shard", metavar="I/N",
                     help="run only shard I of N of the grid (a stable partition of the cell "
                     "ids), e.g. one per SLURM array task; combine the stores with bench merge")
    run.add_argument("--verbose", "-v", action="store_true", help="let TensorFlow's, Keras' and "
                     "ART's own log lines through (start-up, retracing, warnings)")
    run.add_argument("--wide", action="store_true", help="full attack ids as column headers "
                     "(default: short labels A1, A2, ... with a legend)")
    _common(run)

    val = sub.add_parser("validate", help="check a suite without running it")
    val.add_argument("suite")
    val.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="PATH=VALUE")
    val.add_argument("--list", action="store_true", help="print every cell id")
    _common(val)

    plugins = sub.add_parser("plugins", help="list loaded plugins and what they provide")
    _common(plugins)

    schema = sub.add_parser("schema", help="print the suite JSON schema incl. plugin parameters")
    _common(schema)

    runs = sub.add_parser("runs", help="list stored runs")
    runs.add_argument("--store")

    rep = sub.add_parser("report", help="print or export a stored run")
    rep.add_argument("run", nargs="?", help="run id (default: the latest; -2: the one before)")
    rep.add_argument("--store")
    rep.add_argument("--format", "-f", default="terminal",
                     help="terminal (default) or a reporter plugin: markdown, csv, json, ...")
    rep.add_argument("--output", "-o", help="write to this file instead of stdout")
    rep.add_argument("--opt", dest="opts", action="append", default=[], metavar="KEY=VALUE",
                     help="an option of the reporter (-f), value as YAML, e.g. digits=2")
    rep.add_argument("--metric", default="success_rate",
                     help="matrix metric: success_rate, adv_accuracy, l2_mean, ...")
    rep.add_argument("--wide", action="store_true", help="full attack ids as column headers "
                     "(default: short labels A1, A2, ... with a legend)")
    rep.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    rep.add_argument("--benchmark-json", metavar="FILE",
                     help="export attack and training timings in pytest-benchmark's JSON format")
    _common(rep)

    from bench.render import compare

    cmp = sub.add_parser("compare", help="differences between two runs, with regression gates")
    compare.add_arguments(cmp)

    mrg = sub.add_parser("merge", help="combine the shard runs of one run (bench run --shard "
                         "i/N) into one new run")
    mrg.add_argument("out", metavar="OUT", help="store that gets the merged run (created if "
                     "absent; its other runs are left as they are)")
    mrg.add_argument("inputs", nargs="+", metavar="IN", help="a shard run's store (its latest "
                     "run) or STORE:RUN_ID")
    return parser
