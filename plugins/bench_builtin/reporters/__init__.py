"""Built-in report formats: markdown, CSV and JSON (``bench report RUN --format F``)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from bench.interfaces import Params, Reporter
from bench.results.metrics import fmt_seconds, fmt_value
from bench.results.model import RunResults as RunReport


class MarkdownParams(Params):
    metric: str = "success_rate"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a Markdown table."""
    return ["| " + " | ".join(line) + " |" for line in (head, ["---"] * len(head), *rows)]


class Markdown(Reporter):
    name = "markdown"
    version = "1.0.0"
    extension = "md"
    description = "Success-rate matrix and timings as Markdown tables"
    Params = MarkdownParams

    def render(self, report: RunReport) -> str:
        metric = self.params.metric  # type: ignore[attr-defined]
        run = report.run
        lines = [f"# Run {run['id']}: {run['suite_name']}", "",
                 f"Status: {run['status']}; started {run['started']}, finished "
                 f"{run['finished'] or '-'}; commit {run.get('git_commit') or '-'}", ""]
        notice = report.incomplete_notice()
        if notice:
            lines += [f"> **Incomplete run.** {notice}", ""]
        lines += [f"## {metric} by model x defense (columns: attacks)", ""]
        lines += _table(
            ["model", "defense", "clean acc", *report.attack_ids],
            [[e["model"], e["defense"], fmt_value(e["clean_accuracy"], "clean_accuracy"),
              *(fmt_value(e[a], metric) for a in report.attack_ids)]
             for e in report.matrix(metric)])
        robust = report.robust
        if robust:
            lines += ["", "## Robust accuracy (per-sample worst case over the attacks on a row; "
                      "an upper bound)", ""]
            lines += _table(["row", "robust acc", "samples", "attacks"],
                            [[rid, fmt_value(t["robust_accuracy"], "clean_accuracy"),
                              str(t["samples"]), str(t["attacks"])]
                             for rid, r in robust.items() for t in r["tiers"]])
        lines += ["", "## Timings (training; generation per attack)", ""]
        lines += _table(
            ["model", "defense", "train", *report.attack_ids],
            [[e["model"], e["defense"], fmt_seconds(e["train_seconds"]),
              *(fmt_seconds(e[a]) for a in report.attack_ids)]
             for e in report.timings()])
        failures = report.failures()
        if failures:
            lines += ["", "## Failed cells", ""]
            lines += [f"- `{cid}`: {err}" for cid, err in failures]
        return "\n".join(lines) + "\n"


_CELL_ID = re.compile(r"^model=(?P<model>.*?)/defense=(?P<defense>.*?)/attack=(?P<attack>.*?)"
                      r"(?:/source=.*)?$")


class Csv(Reporter):
    name = "csv"
    version = "1.1.0"
    extension = "csv"
    description = ("One line per cell with every metric and timing (long format); planned "
                   "cells an incomplete run never stored are lines with status 'missing'")

    def render(self, report: RunReport) -> str:
        metric_names = sorted({k for c in report.cells for k in c["metrics"]})
        timing_names = sorted({k for c in report.cells for k in c["timings"]})
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["run", "cell_id", "model", "defense", "attack", "status", "error",
                         "samples", *metric_names, *(f"time_{t}" for t in timing_names)])
        for c in report.cells:
            writer.writerow([report.run["id"], c["cell_id"], c["model_id"], c["defense_id"],
                             c["attack_id"], c["status"], c["error"] or "", c["samples"],
                             *(c["metrics"].get(m, "") for m in metric_names),
                             *(c["timings"].get(t, "") for t in timing_names)])
        blank = [""] * (len(metric_names) + len(timing_names))
        for cell_id in report.missing_cells():
            m = _CELL_ID.match(cell_id)
            parts = [m["model"], m["defense"], m["attack"]] if m else ["", "", ""]
            writer.writerow([report.run["id"], cell_id, *parts, "missing",
                             f"not run: the run is {report.run['status']}", "", *blank])
        return buf.getvalue()


class Json(Reporter):
    name = "json"
    version = "1.0.0"
    extension = "json"
    description = "The whole run (provenance, rows, cells, metrics, timings) as JSON"

    def render(self, report: RunReport) -> str:
        data: dict[str, Any] = report.to_dict()
        data["matrix"] = report.matrix()
        return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


REPORTERS: list[type[Reporter]] = [Markdown, Csv, Json]
