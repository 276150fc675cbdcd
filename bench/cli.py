"""The ``bench`` command line: one function per subcommand (arguments: :mod:`bench.arguments`)."""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.arguments import build_parser
from bench.errors import BenchError, ConfigError, ExitCode, PluginError
from bench.interrupts import catch_signals
from bench.progress import say
from bench.quiet import quiet_tensorflow


def _load_plugins(args: argparse.Namespace) -> Any:
    from bench.pluginmanager import load_plugins

    return load_plugins(getattr(args, "plugins", []))


def _executor(args: argparse.Namespace, plugins: Any) -> Any:
    """The executor of ``--executor``, with ``--executor-param``, ``--workers`` and
    ``--address`` among its parameters."""
    from pydantic import ValidationError

    from bench.yamlsafe import load_yaml

    try:
        cls = plugins.registry("executor").get(args.executor)
    except PluginError as exc:
        raise PluginError(f"--executor: {exc}") from None
    params: dict[str, Any] = {}
    for text in args.executor_params:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--executor-param {text!r}: expected KEY=VALUE")
        params[key.strip()] = load_yaml(value, f"--executor-param {key.strip()}")
    for option in ("workers", "address"):
        value = getattr(args, option)
        if value is None:
            continue
        if option not in cls.Params.model_fields:
            raise ConfigError(f"--{option}: executor '{cls.name}' ({cls.description}) "
                              f"takes no {option}")
        params[option] = value
    try:
        return cls(cls.Params.model_validate(params))
    except ValidationError as exc:
        from bench.suite import describe_validation_error

        raise ConfigError(f"--executor {cls.name}: "
                          f"{describe_validation_error(exc, ())}") from None


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from bench.cache import ModelCache
    from bench.pluginmanager import AUTOLOAD_ENV
    from bench.progress import RunProgress
    from bench.render.terminal import print_report
    from bench.results.model import load_results
    from bench.results.store import Store
    from bench.run.driver import Driver
    from bench.run.executor import WorkerSpec
    from bench.run.plan import plan_suite
    from bench.suite import default_suite_path, load_suite

    suite_path = args.suite or str(default_suite_path())
    overrides = list(args.overrides)
    if args.limit is not None:
        if args.limit <= 0:
            raise ConfigError(f"--limit: must be > 0, got {args.limit}")
        overrides.append(f"evaluation.samples={args.limit}")
    if args.cell_timeout is not None:
        overrides.append(f"evaluation.cell_timeout={args.cell_timeout!r}")
    shard = None
    if args.shard is not None:
        from bench.shard import parse_shard

        shard = parse_shard(args.shard)
    plugins = _load_plugins(args)
    executor = _executor(args, plugins)
    suite, _ = load_suite(suite_path, overrides)
    plan = plan_suite(suite, suite_path, plugins)
    suite = plan.suite  # defaults that need the plugins filled in, as stored
    resume = None
    if args.resume is not None:  # found read-only first: a bad --resume writes nothing
        from bench.resume import find_run

        reader = Store(args.store, readonly=True)
        resume = find_run(reader, suite, args.resume or None)
        reader.close()
    quiet_tensorflow(args.verbose, import_now=True)  # after validation: errors stay fast
    store = Store(args.store)
    progress = RunProgress(args.quiet)
    cache = ModelCache(args.cache_dir)
    spec = WorkerSpec(tuple(args.plugins), not os.environ.get(AUTOLOAD_ENV),
                      suite.model_dump(mode="json"), suite_path, str(cache.root),
                      os.getcwd(), args.verbose)
    driver = Driver(plan, plugins, store, cache, progress, executor, spec, resume=resume,
                    shard=shard)
    result = driver.run()
    print_report(load_results(store, result.run_id), console, wide=args.wide)
    say(console, f"stored as run {result.run_id} in {store.path}")
    if result.failed:
        say(console, f"{result.failed} of {sum(result.counts.values())} cells failed",
            style="red")
        return ExitCode.CELLS_FAILED
    return ExitCode.OK


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    from bench.grid import transfer_id
    from bench.run.plan import plan_suite
    from bench.suite import load_suite

    plugins = _load_plugins(args)
    suite, _ = load_suite(args.suite, args.overrides)
    plan = plan_suite(suite, args.suite, plugins)
    rows = {c.row for c in plan.cells}
    transfers = plan.transfers
    n_transfer = sum(map(len, transfers.values()))
    say(console, f"{args.suite}: OK, {len(plan.cells)} cells ({len(rows)} model x defense "
                 f"rows)" + (f" + {n_transfer} transfer cells" if n_transfer else ""))
    if args.list:
        for c in plan.cells:
            say(console, f"  {c.id}  (samples {c.samples})")
            for t in transfers.get(c.id, []):
                say(console, f"  {transfer_id(t, c.attack.id, c.row)}")
    return ExitCode.OK


def cmd_plugins(args: argparse.Namespace, console: Console) -> int:
    plugins = _load_plugins(args)
    table = Table(title="plugins (entry-point group 'artbench' and -p)")
    for col in ("plugin", "distribution", "version", "provides"):
        table.add_column(col)
    for p in plugins.loaded:
        provides = "; ".join([*(f"{k}s: {', '.join(v)}" for k, v in p.provides.items()),
                              *([f"hooks: {', '.join(p.hooks)}"] if p.hooks else [])])
        table.add_row(*map(escape, (p.name, p.distribution, p.version, provides)))
    console.print(table)
    classes = Table(title="registered classes")
    for col in ("kind", "name", "version", "provided by", "description"):
        classes.add_column(col)
    for kind, reg in plugins.registries.items():
        for name, cls in reg.items():
            classes.add_row(*map(escape, (kind, name, cls.version, reg.provider(name),
                                          cls.description)))
    console.print(classes)
    return ExitCode.OK


def cmd_schema(args: argparse.Namespace, console: Console) -> int:
    from bench.schema import suite_schema

    plugins = _load_plugins(args)
    sys.stdout.write(json.dumps(suite_schema(plugins), indent=2) + "\n")
    return ExitCode.OK


def cmd_runs(args: argparse.Namespace, console: Console) -> int:
    from bench.results.store import Store

    store = Store(args.store, readonly=True)
    _store_warning(store)
    with store.reading():
        runs = store.list_runs()
    table = Table(title=f"runs in {store.path}")
    for col in ("id", "suite", "status", "started", "finished", "cells", "failed", "commit"):
        table.add_column(col)
    gone = []
    for r in runs:
        if r["status"] != r["recorded_status"]:
            gone.append(r)
        total = "?" if r["cells_total"] is None else str(r["cells_total"])
        shard = f" [shard {r['shard']}]" if r.get("shard") else ""
        table.add_row(str(r["id"]), escape(r["suite_name"] + shard), r["status"], r["started"],
                      r["finished"] or "-", f"{r['cells_done']}/{total}",
                      str(r["cells_failed"]), (r["git_commit"] or "-")[:12])
    console.print(table)
    for r in gone:
        say(console, f"run {r['id']}: recorded as running, but its process (pid "
                     f"{r['driver_pid']} on {r['driver_host']}) is gone: interrupted")
    return ExitCode.OK


def _store_warning(store: Any) -> None:
    if store.warning:
        sys.stderr.write(f"warning: {store.warning}\n")


def _check_output(option: str, value: str | None) -> Path | None:
    """A file that ``option`` will write: refuse, before anything is written, a directory or
    a path whose parent is missing or not a directory (we never create directories)."""
    if not value:
        return None
    path = Path(value)
    parent = path.parent
    problem = None
    if path.is_dir():
        problem = errno.EISDIR
    elif not parent.exists():
        problem = errno.ENOENT
    elif not parent.is_dir():
        problem = errno.ENOTDIR
    if problem is not None:
        raise ConfigError(f"{option} {value}: cannot write ({os.strerror(problem)})")
    return path


def _write_text(option: str, path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot write ({exc.strerror})") from None


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from bench.render.reporters import parse_options, run_reporter
    from bench.render.terminal import print_report
    from bench.results.model import check_metric, load_results
    from bench.results.store import Store

    for option, value in (("--output", args.output), ("--html", args.html),
                          ("--benchmark-json", args.benchmark_json)):
        _check_output(option, value)
    if args.format == "terminal" and args.output and not (args.html or args.benchmark_json):
        raise ConfigError("--output needs --format markdown, csv, json or another reporter")
    if args.opts and (args.format == "terminal" or args.html or args.benchmark_json):
        raise ConfigError("--opt needs --format with a reporter plugin (markdown, csv, ...)")
    # reporters are plugins; the registered plugins also give traits to cells stored before
    # traits were (the HTML figures). Options are checked before the store is opened.
    plugins = _load_plugins(args) if args.html or args.format != "terminal" else None
    reporter = None
    if plugins is not None and args.format != "terminal" and not (args.html
                                                                   or args.benchmark_json):
        cls = plugins.registry("reporter").get(args.format)
        reporter = (cls, parse_options(cls, args.opts, args.metric))
    store = Store(args.store, readonly=True)
    _store_warning(store)
    with store.reading():
        report = load_results(store, args.run, plugins)
        check_metric(report, args.metric)
        if args.html or args.benchmark_json:
            return _export(args, report, console)
        if args.format == "terminal":
            print_report(report, console, args.metric, wide=args.wide)
            return ExitCode.OK
        assert plugins is not None and reporter is not None
        text = run_reporter(reporter[0], reporter[1], report,
                            Path(args.output) if args.output else None)
    if args.output:
        say(console, f"wrote {args.output}")
    else:
        sys.stdout.write(text or "")
    return ExitCode.OK


def _export(args: argparse.Namespace, report: Any, console: Console) -> int:
    """``--html`` and ``--benchmark-json``: both rendered first, then written (both paths
    were checked before the store was opened)."""
    texts: list[tuple[str, str, str]] = []
    if args.html:
        from bench.render.html import render_report

        texts.append(("--html", args.html, render_report(report)))
    if args.benchmark_json:
        from bench.render.benchjson import benchmark_json_text

        texts.append(("--benchmark-json", args.benchmark_json, benchmark_json_text(report)))
    for option, path, text in texts:
        _write_text(option, Path(path), text)
        say(console, f"wrote {path}")
    return ExitCode.OK


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    from bench.render import compare

    return compare.run(args, console)


def cmd_merge(args: argparse.Namespace, console: Console) -> int:
    from bench.merge import merge

    result = merge(args.out, args.inputs)
    for line in result.warnings:
        sys.stderr.write(f"warning: {line}\n")
    say(console, result.summary)
    return ExitCode.OK


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "plugins": cmd_plugins,
            "schema": cmd_schema, "runs": cmd_runs, "report": cmd_report,
            "compare": cmd_compare, "merge": cmd_merge}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_tensorflow(getattr(args, "verbose", False))
    # tables are wide (one column per attack): do not squeeze them to 80 columns in logs
    console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 240)
    err = Console(stderr=True)
    try:
        # SIGTERM (CI cancelling a job, ``timeout``) unwinds like Ctrl-C, so that a run is
        # marked ``interrupted`` and keeps its finished cells
        with catch_signals():
            return int(COMMANDS[args.command](args, console))
    except BenchError as exc:
        say(err, f"error: {exc}")
        return int(exc.exit_code)
    except KeyboardInterrupt as exc:
        sigterm = getattr(exc, "signum", None) == signal.SIGTERM
        what = "terminated (SIGTERM)" if sigterm else "interrupted"
        tail = ": finished cells are stored" if args.command == "run" else ""
        say(err, f"{what}{tail}")
        return int(ExitCode.TERMINATED if sigterm else ExitCode.INTERRUPTED)
    except Exception:  # a bug of ours: show everything
        traceback.print_exc()
        return int(ExitCode.INTERNAL_ERROR)
