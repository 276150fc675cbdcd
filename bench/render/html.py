"""``bench report RUN --html FILE``: one self-contained HTML page for a run.

The page is rendered from ``templates/report.html.j2`` (Jinja2, autoescaped); the figures are
SVG documents drawn by :mod:`bench.plots` and embedded as ``data:`` URIs, the CSS is inline, so the
file needs no network to be viewed. Each section appears only when the run has its data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import yaml

from bench.render import plots
from bench.render.examples import example_grids, load_examples, load_target_histograms
from bench.render.figures import defense_sweeps, eps_sweeps, histograms
from bench.render.naming import column, row_label, short_row
from bench.render.threats import threat_context
from bench.results import threat
from bench.results.model import RunReport
from bench.results.records import Cell
from bench.results.stats import ROW_FLAGS

TEMPLATES = Path(__file__).parent / "templates"


def _flags(cell: Cell) -> list[dict[str, Any]]:
    return [{"name": f.name, "status": f.status, "evidence": f.evidence, "raised": f.raised}
            for f in cell.flags]


def _matrix(report: RunReport, metric: str, higher_is_better: bool = False,
            robust: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A heatmap: red where the attack does well (high success, low adversarial accuracy)."""
    heads: dict[str, dict[str, Any]] = {}
    for cell in report.cells:
        name, _, params = cell["attack_id"].partition("[")
        heads.setdefault(column(cell), {"key": column(cell), "name": name,
                                        "params": params.removesuffix("]").replace(",", ", "),
                                        "source": short_row(cell.get("source_row"))})
    by_key = {(c["row_id"], column(c)): c for c in report.cells}
    rows = []
    for rid in report.row_ids:
        row = report.row(rid)
        entries = []
        for col in heads:
            c = by_key.get((rid, col))
            entry: dict[str, Any] = {"status": "missing", "flags": [], "title": "not run"}
            if c is not None:
                flags = _flags(c)
                entry.update(flags=flags, raised=sum(f["raised"] for f in flags),
                             title=c["cell_id"])
                if c["status"] != "ok":
                    entry.update(status="failed", title=f"{c['cell_id']}\n{c['error'] or ''}")
                elif c["metrics"].get(metric) is not None:
                    value = c["metrics"][metric]
                    bg, fg = plots.heat_colour(1 - value if higher_is_better else value)
                    m = c["metrics"]
                    detail = (f"success {_pct(m.get('success_rate'))} "
                              f"({_int(m.get('success_count'))}/"
                              f"{_int(m.get('success_denominator'))}); "
                              f"adversarial accuracy {_pct(m.get('adv_accuracy'))}; "
                              f"{_int(m.get('samples'))} samples")
                    entry.update(status="ok", value=value, bg=bg, fg=fg,
                                 title=f"{c['cell_id']}\n{detail}{_flag_note(entry['flags'])}")
                else:
                    entry.update(status="ok", value=None)
            entries.append(entry)
        rows.append({"model": row["model_id"], "defense": row["defense_id"],
                     "status": row.get("status"), "clean": row.get("clean_accuracy"),
                     "robust": (robust or {}).get(rid), "cells": entries})
    stops = [plots.heat_colour(1 - v / 4 if higher_is_better else v / 4)[0] for v in range(5)]
    return {"metric": metric, "columns": list(heads.values()), "rows": rows, "legend": stops,
            "robust": robust is not None}


def _flag_note(flags: list[dict[str, Any]]) -> str:
    if not flags:
        return ""
    raised = [f"\n\u2691 {f['name']}: {f['evidence']}" for f in flags if f["raised"]]
    return "".join(raised) if raised else f"\nsanity checks: {len(flags)} quiet"


def _timings(report: RunReport) -> dict[str, Any]:
    cells = [{"row": row_label(report, c["row_id"]), "attack": column(c),
              "status": c["status"], "samples": c.get("samples"),
              "generate": c["timings"].get("generate"),
              "per_sample": c["timings"].get("per_sample"),
              "evaluate": c["timings"].get("evaluate")} for c in report.cells]
    longest = max((c["generate"] or 0.0 for c in cells), default=0.0)
    for c in cells:
        c["bar"] = 100 * (c["generate"] or 0.0) / longest if longest else 0.0
    rows = [{"label": row_label(report, r["row_id"]), "status": r.get("status"),
             "seconds": r.get("train_seconds"), "clean": r.get("clean_accuracy"),
             "balanced": r.get("balanced_accuracy"), "samples": r.get("eval_samples"),
             "training": r.get("training") or []} for r in report.rows]
    return {"cells": cells, "rows": rows}


def _pct(value: Any) -> str:
    return "\u2013" if value is None else f"{100 * value:.1f}%"


def _int(value: Any) -> str:
    return "\u2013" if value is None else f"{value:.0f}"


def _pm(tier: Any) -> str:
    """``±2.2, ``: the larger side of a robust accuracy's 95 % interval ("" without one)."""
    pm = threat.plus_minus(tier)
    return f"{pm}, " if pm else ""


def _interval(tier: Any) -> str:
    """``; 95 % interval 46.2-50.6%`` for a title ("" without one)."""
    iv = tier.get("interval")
    return "" if not iv else f"; 95 % interval {100 * iv[0]:.1f}\u2013{100 * iv[1]:.1f}%"


def _secs(value: Any) -> str:
    """Seconds, in ms below one second; a dash when unknown."""
    return ("\u2013" if value is None
            else f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s")


def context(report: RunReport, hist: dict[int, dict[str, Any]] | None = None,
            examples: dict[int, list[dict[str, Any]]] | None = None,
            robust: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain data."""
    flags: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for c in report.cells:
        for f in _flags(c):
            # a flag on the deployed model is the same on every cell of its row: list it once
            if f["name"] in ROW_FLAGS:
                if (c["row_id"], f["name"]) in seen:
                    continue
                seen.add((c["row_id"], f["name"]))
                flags.append({"cell_id": f"{c['row_id']} (every cell)", **f})
            else:
                flags.append({"cell_id": c["cell_id"], **f})
    run, threats = report.run, threat_context(report)
    return {
        "run": run, "failures": report.failures(), "completeness": report.completeness(),
        "success": _matrix(report, "success_rate"),
        "accuracy": _matrix(report, "adv_accuracy", higher_is_better=True,
                            robust=None if threats else robust),
        "threats": threats,
        "flags": flags, "raised_flags": sum(f["raised"] for f in flags),
        "verdicts": [{**v, "row": row_label(report, v["row_id"])}
                     for v in report.verdicts],
        "sweeps": eps_sweeps(report), "defense_sweeps": defense_sweeps(report),
        "histograms": histograms(report, hist or {}),
        "examples": example_grids(report, examples or {}),
        "timings": _timings(report),
        "suite_yaml": yaml.safe_dump(run.get("suite") or {}, sort_keys=False,
                                     allow_unicode=True),
    }


def render_html(report: RunReport, hist: dict[int, dict[str, Any]] | None = None,
                examples: dict[int, list[dict[str, Any]]] | None = None,
                robust: dict[str, dict[str, Any]] | None = None) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(pct=_pct, secs=_secs, int=_int, pm=_pm, interval=_interval)
    return env.get_template("report.html.j2").render(**context(report, hist, examples, robust))


def render_report(report: RunReport) -> str:
    """The run's page; per-sample predictions and example images (histograms, example grids)
    are loaded through the results model."""
    return render_html(report, load_target_histograms(report), load_examples(report),
                       report.robust if report.loader is not None else None)


def write_html(report: RunReport, path: Path) -> None:
    """Write the run's report to ``path`` (see ``render_report``)."""
    text = render_report(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
