"""Bad result stores, runs, metrics and output paths: one line, exit 4, no file changed.

Reading commands (``runs``, ``report``, ``compare``) open the store read-only: whatever they are
pointed at (another application's database, a typo, a damaged file, a store of a newer
artbench), nothing under the world changes, and no ``-wal`` / ``-shm`` file appears.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bad_input.harness import REPO_ROOT, Case, run_case, snapshot

#: the metrics a finished tiny run's cells carry (``bench report --metric``'s choices)
CELL_METRICS = ("adv_accuracy, adv_confidence_mean, balanced_accuracy, clean_accuracy, l0_mean, "
                "l0_median, l2_mean, l2_median, linf_mean, linf_median, robust_accuracy, "
                "samples, success_count, success_denominator, success_rate")
#: ``bench compare --metric``'s choices: cell metrics, timings and the row metrics
COMPARE_METRICS = ("adv_accuracy, adv_confidence_mean, balanced_accuracy, clean_accuracy, "
                   "evaluate, generate, l0_mean, l0_median, l2_mean, l2_median, linf_mean, "
                   "linf_median, per_sample, robust_accuracy, samples, success_count, "
                   "success_denominator, success_rate, train_seconds")
FOREIGN = ("not an artbench result store (an SQLite database of another application); left "
           "unchanged")


def foreign(name: str = "other-app.sqlite", app_id: int = 0):
    def setup(world: Path) -> None:
        db = sqlite3.connect(world / name)
        db.execute(f"PRAGMA application_id = {app_id}")
        db.execute("PRAGMA journal_mode = WAL")  # a WAL database of someone else's
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute("INSERT INTO notes (text) VALUES ('keep me')")
        db.commit()
        db.close()
        for side in ("-wal", "-shm"):
            Path(f"{world / name}{side}").unlink(missing_ok=True)
    return setup


def write(name: str, data: bytes):
    def setup(world: Path) -> None:
        (world / name).write_bytes(data)
    return setup


def truncated(name: str, size: int):
    def setup(world: Path) -> None:
        (world / name).write_bytes((world / "store.sqlite").read_bytes()[:size])
    return setup


def scribbled(world: Path) -> None:
    """Every page of the store after the first three overwritten with 0xff."""
    data = bytearray((world / "store.sqlite").read_bytes())
    for start in range(3 * 4096, len(data), 4096):
        data[start:start + 4096] = b"\xff" * 4096
    (world / "damaged.sqlite").write_bytes(bytes(data))


def newer_schema(world: Path) -> None:
    shutil.copy(world / "store.sqlite", world / "newer.sqlite")
    db = sqlite3.connect(world / "newer.sqlite")
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for side in ("-wal", "-shm"):
        Path(f"{world / 'newer.sqlite'}{side}").unlink(missing_ok=True)


def shard_runs(*b_sql: str, a_shard: str = "0/2", b_shard: str = "1/2"):
    """a.sqlite and b.sqlite: the world's run as shard runs (``a_shard``, ``b_shard``), with
    ``b_sql`` applied to b.sqlite."""
    def setup(world: Path) -> None:
        for name, shard, sql in (("a.sqlite", a_shard, ()), ("b.sqlite", b_shard, b_sql)):
            shutil.copy(world / "store.sqlite", world / name)
            db = sqlite3.connect(world / name)
            db.execute("UPDATE runs SET shard = ?", (shard,))
            for stmt in sql:
                db.execute(stmt)
            db.commit()
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
            for side in ("-wal", "-shm"):
                Path(f"{world / name}{side}").unlink(missing_ok=True)
    return setup


def both(*setups):
    def setup(world: Path) -> None:
        for s in setups:
            s(world)
    return setup


CASES = [
    # -- files that are not an artbench store: refused, byte-identical afterwards
    Case("runs-foreign-sqlite", ["runs", "--store", "other-app.sqlite"],
         f"error: other-app.sqlite: {FOREIGN}", setup=foreign()),
    Case("report-foreign-sqlite", ["report", "--store", "other-app.sqlite"],
         f"error: other-app.sqlite: {FOREIGN}", setup=foreign()),
    Case("compare-foreign-sqlite", ["compare", "1", "2", "--store", "other-app.sqlite"],
         f"error: other-app.sqlite: {FOREIGN}", setup=foreign()),
    Case("run-into-foreign-sqlite", ["run", "{tiny}", "--quiet", "--store", "other-app.sqlite"],
         f"error: other-app.sqlite: {FOREIGN}", setup=foreign()),
    Case("report-foreign-application-id", ["report", "--store", "app.sqlite"],
         f"error: app.sqlite: {FOREIGN}", setup=foreign("app.sqlite", 0x1234)),
    Case("runs-text-file", ["runs", "--store", "notes.txt"],
         "error: notes.txt: not an artbench result store (not an SQLite database); left "
         "unchanged", setup=write("notes.txt", b"my notes, not a database\n" * 20)),
    Case("run-into-text-file", ["run", "{tiny}", "--quiet", "--store", "notes.txt"],
         "error: notes.txt: not an artbench result store (not an SQLite database); left "
         "unchanged", setup=write("notes.txt", b"my notes, not a database\n" * 20)),
    Case("runs-directory", ["runs", "--store", "cache"],
         "error: cache: is a directory, not a result store"),
    # -- no store: one line, and nothing created (a typo must not leave an empty database)
    Case("runs-missing-store", ["runs", "--store", "typo.sqlite"],
         "error: typo.sqlite: no result store here (bench run creates one)"),
    Case("report-missing-store-from-env", ["report"],
         "error: {tmp}/nowhere/results.sqlite: no result store here (bench run creates one)",
         env={"ARTBENCH_STORE": "{tmp}/nowhere/results.sqlite"}),
    Case("compare-missing-store", ["compare", "1", "2", "--store", "typo.sqlite"],
         "error: typo.sqlite: no result store here (bench run creates one)"),
    Case("report-empty-file", ["report", "--store", "empty.sqlite"],
         "error: empty.sqlite: empty file, no result store yet (bench run creates one)",
         setup=write("empty.sqlite", b"")),
    # -- damaged stores
    Case("runs-truncated-store", ["runs", "--store", "cut.sqlite"],
         "error: cut.sqlite: damaged result store (database disk image is malformed)",
         setup=truncated("cut.sqlite", 8192)),
    Case("report-truncated-header", ["report", "--store", "cut.sqlite"],
         "error: cut.sqlite: damaged result store (database disk image is malformed)",
         setup=truncated("cut.sqlite", 50)),
    Case("report-scribbled-pages", ["report", "--store", "damaged.sqlite"],
         "error: damaged.sqlite: damaged result store (database disk image is malformed)",
         setup=scribbled),
    Case("runs-newer-schema", ["runs", "--store", "newer.sqlite"],
         "error: newer.sqlite: result store of schema version 99, newer than this artbench "
         "reads (6); upgrade artbench", setup=newer_schema),
    Case("run-into-newer-schema", ["run", "{tiny}", "--quiet", "--store", "newer.sqlite"],
         "error: newer.sqlite: result store of schema version 99, newer than this artbench "
         "reads (6); upgrade artbench", setup=newer_schema),
    # -- runs and metrics
    Case("report-unknown-run", ["report", "7"],
         "error: {store}: no run 7 (runs: 1..1)"),
    Case("report-run-not-a-number", ["report", "latest"],
         "error: run 'latest': expected a run id (see `bench runs`)"),
    Case("compare-unknown-run", ["compare", "1", "2"],
         "error: {store}: no run 2 (runs: 1..1)"),
    Case("report-metric-bogus", ["report", "--metric", "bogus"],
         f"error: --metric: unknown metric 'bogus'. Known: {CELL_METRICS}"),
    Case("report-metric-misspelt-markdown", ["report", "-f", "markdown", "--metric", "l2_man"],
         "error: --metric: unknown metric 'l2_man'. Did you mean: l2_mean, l2_median, l0_mean? "
         f"Known: {CELL_METRICS}"),
    Case("compare-metric-bogus", ["compare", "1", "1", "--metric", "bogus"],
         f"error: --metric: unknown metric 'bogus'. Known: {COMPARE_METRICS}"),
    Case("compare-fail-on-misspelt", ["compare", "1", "1", "--fail-on", "sucess_rate:+5%"],
         "error: --fail-on: unknown metric 'sucess_rate'. Did you mean: success_rate, "
         f"success_count, success_denominator? Known: {COMPARE_METRICS}"),
    # -- output paths: checked before anything is read or written, nothing created
    Case("report-output-missing-dir", ["report", "-f", "markdown", "-o", "nodir/r.md"],
         "error: --output nodir/r.md: cannot write (No such file or directory)"),
    Case("report-output-onto-dir", ["report", "-f", "csv", "-o", "cache"],
         "error: --output cache: cannot write (Is a directory)"),
    Case("report-html-under-file", ["report", "--html", "afile/report.html"],
         "error: --html afile/report.html: cannot write (Not a directory)",
         setup=write("afile", b"a file\n")),
    Case("report-benchmark-json-under-file", ["report", "--benchmark-json", "afile/b.json"],
         "error: --benchmark-json afile/b.json: cannot write (Not a directory)",
         setup=write("afile", b"a file\n")),
    Case("report-html-ok-json-bad-writes-neither",
         ["report", "--html", "ok.html", "--benchmark-json", "nodir/b.json"],
         "error: --benchmark-json nodir/b.json: cannot write (No such file or directory)"),
    Case("report-terminal-with-output", ["report", "-o", "r.txt"],
         "error: --output needs --format markdown, csv, json or another reporter"),
    # -- bench run --resume: found read-only before anything is written
    Case("resume-no-run-with-this-configuration",
         ["run", "{tiny}", "--quiet", "--resume", "--set", "evaluation.samples=10"],
         "error: --resume: no earlier run of suite 'tiny' with this configuration in {store} "
         "(see `bench runs`)"),
    Case("resume-run-of-another-configuration",
         ["run", "{tiny}", "--quiet", "--resume", "1", "--set", "evaluation.samples=10"],
         "error: --resume 1: run 1 was made with another configuration (suite fields that "
         "differ: evaluation)"),
    Case("resume-unknown-run", ["run", "{tiny}", "--quiet", "--resume", "9"],
         "error: {store}: no run 9 (runs: 1..1)"),
    Case("resume-missing-store", ["run", "{tiny}", "--quiet", "--resume", "--store",
                                  "typo.sqlite"],
         "error: typo.sqlite: no result store here (bench run creates one)"),
    # -- bench merge: every input checked read-only before OUT is created or touched
    Case("merge-input-not-a-shard-run", ["merge", "out.sqlite", "store.sqlite"],
         "error: store.sqlite run 1: not a shard run (made without --shard); bench merge "
         "combines the runs of bench run --shard i/N"),
    Case("merge-suite-name-differs", ["merge", "out.sqlite", "a.sqlite", "b.sqlite"],
         "error: b.sqlite run 1: suite 'other', but a.sqlite run 1 is suite 'tiny'",
         setup=shard_runs("UPDATE runs SET suite_name = 'other'")),
    Case("merge-configuration-differs", ["merge", "out.sqlite", "a.sqlite", "b.sqlite"],
         "error: b.sqlite run 1: made with another configuration than a.sqlite run 1 (suite "
         "fields that differ: evaluation)",
         setup=shard_runs("UPDATE runs SET suite_json = "
                          "json_set(suite_json, '$.evaluation.samples', 10)")),
    Case("merge-shard-counts-differ", ["merge", "out.sqlite", "a.sqlite", "b.sqlite"],
         "error: b.sqlite run 1: shard 1/3, but a.sqlite run 1 is shard 0/2 (the shard "
         "counts differ)", setup=shard_runs(b_shard="1/3")),
    Case("merge-damaged-shard-record", ["merge", "out.sqlite", "a.sqlite", "b.sqlite"],
         "error: b.sqlite run 1: damaged shard record '2/2'", setup=shard_runs(b_shard="2/2")),
    Case("merge-output-is-an-input", ["merge", "b.sqlite", "a.sqlite", "./b.sqlite"],
         "error: b.sqlite: the output of bench merge cannot also be one of its inputs "
         "(./b.sqlite)", setup=shard_runs()),
    Case("merge-unknown-run", ["merge", "out.sqlite", "a.sqlite:7", "b.sqlite"],
         "error: a.sqlite: no run 7 (runs: 1..1)", setup=shard_runs()),
    Case("merge-missing-input", ["merge", "out.sqlite", "a.sqlite", "typo.sqlite"],
         "error: typo.sqlite: no result store here (bench run creates one)",
         setup=shard_runs()),
    Case("merge-foreign-input", ["merge", "out.sqlite", "a.sqlite", "other-app.sqlite"],
         f"error: other-app.sqlite: {FOREIGN}", setup=both(shard_runs(), foreign())),
    Case("merge-damaged-input", ["merge", "out.sqlite", "a.sqlite", "cut.sqlite"],
         "error: cut.sqlite: damaged result store (database disk image is malformed)",
         setup=both(shard_runs(), truncated("cut.sqlite", 8192))),
    Case("merge-into-foreign-sqlite", ["merge", "other-app.sqlite", "a.sqlite", "b.sqlite"],
         f"error: other-app.sqlite: {FOREIGN}", setup=both(shard_runs(), foreign())),
    Case("merge-into-text-file", ["merge", "notes.txt", "a.sqlite", "b.sqlite"],
         "error: notes.txt: not an artbench result store (not an SQLite database); left "
         "unchanged", setup=both(shard_runs(), write("notes.txt", b"my notes\n" * 20))),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_store_input(case: Case, world: Path) -> None:
    run_case(case, world)


def _bench(world: Path, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "ARTBENCH_STORE": str(world / "store.sqlite"),
           "ARTBENCH_CACHE_DIR": str(world / "cache"), "COLUMNS": "200"}
    return subprocess.run([*prefix, sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, env=env, cwd=world, timeout=300)


def test_reading_commands_change_nothing(world: Path) -> None:
    """The reading commands on a good store succeed and leave every file as it was: no
    migration, no journal-mode switch, no ``-wal`` or ``-shm`` file."""
    before = snapshot(world)
    for args in (["runs"], ["report"], ["report", "-f", "json"], ["report", "-f", "csv"],
                 ["compare", "1", "1", "--format", "json"]):
        res = _bench(world, *args)
        assert res.returncode == 0, (args, res.stderr)
        assert res.stderr == "", (args, res.stderr)
    assert snapshot(world) == before


def _read_only_mount_prefix(world: Path) -> tuple[str, ...]:
    """Run a command with ``world`` bind-mounted read-only in a private mount namespace: a real
    read-only file system, which stops root too (chmod does not). Skips where not allowed."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare")
    probe = subprocess.run([unshare, "-m", "sh", "-c",
                            f"mount --bind -o ro '{world}' '{world}' && ! touch '{world}/x'"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.strip()}")
    script = f'mount --bind -o ro "{world}" "{world}" && exec "$@"'
    return (unshare, "-m", "sh", "-c", script, "sh")


def test_store_on_a_read_only_file_system_can_be_read(world: Path) -> None:
    prefix = _read_only_mount_prefix(world)
    before = snapshot(world)
    runs = _bench(world, "runs", prefix=prefix)
    assert runs.returncode == 0 and runs.stderr == "", runs.stderr
    assert "finished" in runs.stdout
    report = _bench(world, "report", "-f", "csv", prefix=prefix)
    assert report.returncode == 0 and report.stdout.count("\n") == 3, report.stderr
    assert snapshot(world) == before
    # and a run cannot write there: one line, no traceback
    run = _bench(world, "run", "{}".format(REPO_ROOT / "tests" / "data" / "tiny.yaml"),
                 "--quiet", prefix=prefix)
    assert run.returncode == 4 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(f"error: {world / 'store.sqlite'}: ")
    assert snapshot(world) == before


def test_read_only_file_system_with_a_live_log(world: Path) -> None:
    """A store whose writer left a ``-wal`` log (killed) on a read-only file system: the
    reading commands still read it, including the cells only in the log."""
    db = sqlite3.connect(world / "store.sqlite")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("UPDATE runs SET suite_name = 'renamed-in-log'")
    db.commit()
    # leave the log behind as a killed process would: copy it before closing checkpoints it
    wal, shm = (Path(f"{world / 'store.sqlite'}{s}") for s in ("-wal", "-shm"))
    saved = wal.read_bytes(), shm.read_bytes()
    main = (world / "store.sqlite").read_bytes()
    db.close()
    (world / "store.sqlite").write_bytes(main)
    wal.write_bytes(saved[0])
    shm.write_bytes(saved[1])
    prefix = _read_only_mount_prefix(world)
    before = snapshot(world)
    res = _bench(world, "runs", prefix=prefix)
    assert res.returncode == 0, res.stderr
    assert "renamed-in-log" in res.stdout
    assert snapshot(world) == before
