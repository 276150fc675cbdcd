"""A -p plugin for the reporter and tracker contracts: a reporter with options that writes two
files, a tracker that raises, and a new-style ``bench_cell_finished`` that takes the new
arguments (logged into $CONTRACT_LOG)."""

import json
import os
from pathlib import Path

from pydantic import Field

from bench import hookimpl
from bench.interfaces import Params, Reporter, Tracker


class TexOptions(Params):
    digits: int = Field(1, ge=0, le=6)
    caption: str = "Attack success rate"
    metric: str = "success_rate"


class TexTable(Reporter):
    """The success-rate matrix as a LaTeX tabular; ``-o`` also writes ``<name>.rows.txt``."""

    name = "tex-table"
    version = "0.1.0"
    extension = "tex"
    Options = TexOptions

    def render(self, results, options):
        lines = [r"\begin{table}", r"\begin{tabular}{l" + "r" * len(results.attack_ids) + "}",
                 " & ".join(["row", *results.attack_ids]) + r" \\"]
        for entry, rid in zip(results.matrix(options.metric), results.row_ids, strict=True):
            values = [entry[a] for a in results.attack_ids]
            lines.append(" & ".join([rid, *(
                f"{100 * v:.{options.digits}f}" if isinstance(v, float) else str(v or "-")
                for v in values)]) + r" \\")
        lines += [r"\end{tabular}", rf"\caption{{{options.caption}}}", r"\end{table}"]
        return "\n".join(lines) + "\n"

    def write(self, results, options, path: Path):
        path.write_text(self.render(results, options))
        path.with_suffix(".rows.txt").write_text("\n".join(results.row_ids) + "\n")


class Raising(Tracker):
    name = "raising"
    version = "0.1.0"

    def cell_finished(self, event):
        raise RuntimeError(f"cannot reach the server for {event.cell_id}")


@hookimpl
def bench_register_reporters():
    return [TexTable]


@hookimpl
def bench_register_trackers():
    return [Raising]


@hookimpl
def bench_cell_finished(cell_id, status, error, timings, traits, source_row, row_id):
    with open(os.environ["CONTRACT_LOG"], "a") as f:
        f.write(json.dumps({"cell": cell_id, "status": status, "error": error,
                            "timings": sorted(timings), "attack_traits": traits.get("attack"),
                            "source_row": source_row, "row": row_id}) + "\n")
