"""Built-in report formats: markdown, CSV and JSON (``bench report RUN -f F [--opt K=V]``)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Literal

from pydantic import Field

from bench.interfaces import Params, Reporter
from bench.results import threat
from bench.results.metrics import fmt_seconds, fmt_value
from bench.results.model import RunResults


class MarkdownOptions(Params):
    metric: str = Field("success_rate", description="the matrix's metric (also --metric)")
    timings: bool = Field(True, description="add the timings table")


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a Markdown table."""
    return ["| " + " | ".join(line) + " |" for line in (head, ["---"] * len(head), *rows)]


class Markdown(Reporter):
    name = "markdown"
    version = "1.0.0"
    extension = "md"
    description = ("Success-rate matrix, robust accuracy per threat model and timings as "
                   "Markdown tables")
    Options = Params = MarkdownOptions

    def render(self, report: RunResults, options: Any = None) -> str:
        options = options if options is not None else self.params
        metric = options.metric
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
        lines += _robust_section(report)
        if options.timings:
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


def _robust_section(report: RunResults) -> list[str]:
    """Robust accuracy per threat model (one column each) when the run has threat models,
    else the worst case over every attack of a row with its tiers."""
    threats = report.threats or {}
    models = threats.get("models") or []
    if models:
        head = "## Robust accuracy per threat model (a sample counts when no attack within " \
               "the budget fools it; an upper bound)"
        rows = [[rid, *(_robust_text(e) for e in threats.get("rows", {}).get(rid, []))]
                for rid in report.row_ids]
        return ["", head, ""] + _table(["row", *(m["label"] for m in models)], rows)
    if not report.robust:
        return []
    return ["", "## Robust accuracy (per-sample worst case over the attacks on a row; an "
            "upper bound)", ""] + _table(
        ["row", "robust acc", "95 % interval", "samples", "attacks"],
        [[rid, fmt_value(t["robust_accuracy"], "clean_accuracy"), _interval_text(t),
          str(t["samples"]), str(t["attacks"])]
         for rid, r in report.robust.items() for t in r["tiers"]])


def _interval_text(t: dict[str, Any]) -> str:
    iv = t.get("interval")
    return "-" if not iv else f"{100 * iv[0]:.1f}-{100 * iv[1]:.1f} %"


def _robust_text(entry: dict[str, Any]) -> str:
    if entry.get("robust_accuracy") is None:
        return "-"
    pm = threat.plus_minus(entry)
    return (f"{fmt_value(entry['robust_accuracy'], 'clean_accuracy')}" + (f" {pm}" if pm else "")
            + f" (n={entry['samples']}, {entry['attacks']} att.)")


_CELL_ID = re.compile(r"^model=(?P<model>.*?)/defense=(?P<defense>.*?)/attack=(?P<attack>.*?)"
                      r"(?:/source=.*)?$")


class CsvOptions(Params):
    table: Literal["cells", "robust"] = Field(
        "cells", description="cells: one line per cell with every metric and timing; robust: "
        "one line per row and threat model (else the worst case and its tiers)")


class Csv(Reporter):
    name = "csv"
    version = "1.2.0"
    extension = "csv"
    description = ("One line per cell with every metric and timing (long format); planned "
                   "cells an incomplete run never stored are lines with status 'missing'; "
                   "--opt table=robust: robust accuracy per row and threat model")
    Options = Params = CsvOptions

    def render(self, report: RunResults, options: Any = None) -> str:
        options = options if options is not None else self.params
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if options.table == "robust":
            _robust_csv(report, writer)
            return buf.getvalue()
        metric_names = sorted({k for c in report.cells for k in c["metrics"]})
        timing_names = sorted({k for c in report.cells for k in c["timings"]})
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


def _robust_csv(report: RunResults, writer: Any) -> None:
    """One line per row and threat model (``norm``, ``eps``), or per worst-case tier (threat
    model ``worst-case``, no norm) when the run has no threat models."""
    writer.writerow(["run", "row_id", "threat_model", "norm", "eps", "robust_accuracy",
                     "samples", "attacks", "interval_low", "interval_high"])
    run_id = report.run["id"]
    threats = report.threats or {}
    if threats.get("models"):
        for rid in report.row_ids:
            for e in threats.get("rows", {}).get(rid, []):
                acc = e.get("robust_accuracy")
                writer.writerow([run_id, rid, e["label"], e["norm"], e["eps"],
                                 "" if acc is None else acc, e["samples"], e["attacks"],
                                 *(e.get("interval") or ("", ""))])
        return
    for rid, r in report.robust.items():
        for t in r["tiers"]:
            writer.writerow([run_id, rid, "worst-case", "", "", t["robust_accuracy"],
                             t["samples"], t["attacks"], *(t.get("interval") or ("", ""))])


class Json(Reporter):
    name = "json"
    version = "1.0.0"
    extension = "json"
    description = "The whole run (provenance, rows, cells, metrics, timings) as JSON"

    def render(self, report: RunResults, options: Any = None) -> str:
        data: dict[str, Any] = report.to_dict()
        data["matrix"] = report.matrix()
        return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


REPORTERS: list[type[Reporter]] = [Markdown, Csv, Json]
