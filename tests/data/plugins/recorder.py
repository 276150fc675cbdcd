"""A -p plugin that records the lifecycle hooks it sees into $RECORDER_LOG."""

import json
import os

from bench import hookimpl


def _log(event, **data):
    with open(os.environ["RECORDER_LOG"], "a") as f:
        f.write(json.dumps({"event": event, **data}) + "\n")


@hookimpl
def bench_run_start(run_id, suite, cell_ids):
    _log("run_start", run_id=run_id, cells=cell_ids)


@hookimpl
def bench_cell_finished(run_id, cell_id, status, metrics):
    _log("cell_finished", cell=cell_id, status=status)


@hookimpl
def bench_run_end(run_id, status, summary):
    _log("run_end", status=status, summary=summary)
