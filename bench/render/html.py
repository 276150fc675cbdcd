"""``bench report RUN --html FILE``: one self-contained HTML page for a run.

The page is rendered from ``templates/report.html.j2`` (Jinja2, autoescaped); the figures are
SVG documents drawn by :mod:`bench.plots` and embedded as ``data:`` URIs, the CSS is inline, so the
file needs no network to be viewed. Each section appears only when the run has its data.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import jinja2
import yaml

from bench.render import plots
from bench.render.threats import threat_context
from bench.results.model import RunReport
from bench.results.records import Cell
from bench.results.stats import (
    ROW_FLAGS,
    attack_traits,
    defense_traits,
    row_defense_traits,
)

TEMPLATES = Path(__file__).parent / "templates"


# ---- per-sample data, loaded lazily through the results model ---------------------------


def load_target_histograms(report: RunReport) -> dict[int, dict[str, Any]]:
    """Per targeted white-box cell (keyed by the cell's primary key): counts of adversarial
    predictions per class, the target classes, and the number of classes (the same for the
    whole run)."""
    out: dict[int, dict[str, Any]] = {}
    top = len(report.run.class_names or []) - 1
    for cell in report.white_box:
        samples = [x for x in report.samples(cell)
                   if x.target is not None and x.adv_pred is not None]
        if not samples:
            continue
        h = out.setdefault(cell.id, {"counts": defaultdict(int), "targets": set()})
        for x in samples:
            h["counts"][x.adv_pred] += 1
            h["targets"].add(x.target)
            top = max(top, x.label or 0, x.clean_pred or 0, x.adv_pred or 0, x.target or 0)
    for h in out.values():
        h.update(targets=sorted(h["targets"]), classes=top + 1)
    return out


def load_examples(report: RunReport) -> dict[int, list[dict[str, Any]]]:
    """Per white-box cell (keyed by primary key): the kept example images with the label,
    clean and adversarial prediction and confidence, target and success of each."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for cell in report.white_box:
        images = report.examples(cell)
        if not images:
            continue
        per_sample = {x.idx: x for x in report.samples(cell)[: len(images)]}
        for i, (clean, adv) in enumerate(images):
            x = per_sample.get(i)
            out[cell.id].append({
                "clean": clean, "adv": adv,
                **{k: (getattr(x, k) if x is not None else None) for k in (
                    "label", "clean_pred", "adv_pred", "target", "success")},
                "clean_conf": x.clean_confidence if x is not None else None,
                "adv_conf": x.confidence if x is not None else None,
            })
    return dict(out)


# ---- the view model ---------------------------------------------------------------------


def _column(cell: Cell, label: str | None = None) -> str:
    """The attack's column: its id, with the source row for transferred examples."""
    label = cell["attack_id"] if label is None else label
    return f"{label} \u2190 {_short(cell['source_row'])}" if cell.get("source_row") else label


def _short(row_id: str | None) -> str | None:  # model=cnn/defense=none -> cnn/none
    return row_id and row_id.removeprefix("model=").replace("/defense=", "/", 1)


def _row_label(report: RunReport, row_id: str) -> str:
    row = report.row(row_id)
    models = {report.row(r)["model_id"] for r in report.row_ids}
    return row["defense_id"] if len(models) == 1 else f"{row['model_id']} / {row['defense_id']}"


def _flags(cell: Cell) -> list[dict[str, Any]]:
    return [{"name": f.name, "status": f.status, "evidence": f.evidence, "raised": f.raised}
            for f in cell.flags]


def _matrix(report: RunReport, metric: str, higher_is_better: bool = False,
            robust: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A heatmap: red where the attack does well (high success, low adversarial accuracy)."""
    heads: dict[str, dict[str, Any]] = {}
    for cell in report.cells:
        name, _, params = cell["attack_id"].partition("[")
        heads.setdefault(_column(cell), {"key": _column(cell), "name": name,
                                         "params": params.removesuffix("]").replace(",", ", "),
                                         "source": _short(cell.get("source_row"))})
    by_key = {(c["row_id"], _column(c)): c for c in report.cells}
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


def _family(cell: Cell) -> str:
    """The attack's column without its budget parameters (``fgsm[eps=0.1]`` -> ``fgsm``): the
    cells of one eps sweep share it."""
    traits = attack_traits(cell)
    budget = set(traits.budget_params) if traits is not None else set()
    name, _, inner = cell["attack_id"].partition("[")
    kept = [part for part in inner.removesuffix("]").split(",")
            if part and part.split("=", 1)[0] not in budget]
    return _column(cell, f"{name}[{','.join(kept)}]" if kept else name)


def _eps_of(cell: Cell) -> float | None:
    traits = attack_traits(cell)
    return None if traits is None or traits.eps is None else float(traits.eps)


def _eps_sweeps(report: RunReport) -> list[dict[str, Any]]:
    points: dict[str, dict[str, list[tuple[float, dict[str, Any]]]]] = defaultdict(
        lambda: defaultdict(list))
    for c in report.cells:
        eps = _eps_of(c)
        if c["status"] == "ok" and eps is not None:
            points[_family(c)][c["row_id"]].append((eps, c["metrics"]))
    out = []
    for family, rows in points.items():
        eps_values = sorted({e for pts in rows.values() for e, _ in pts})
        if len(eps_values) < 2:
            continue
        panels: list[tuple[str, plots.Series]] = [("adversarial accuracy", {}),
                                                  ("attack success rate", {})]
        table = []
        for rid in report.row_ids:
            pts = sorted(rows.get(rid, []), key=lambda p: p[0])
            if not pts:
                continue
            label = _row_label(report, rid)
            for (_, series), metric in zip(panels, ("adv_accuracy", "success_rate"),
                                           strict=True):
                xy = [(e, m[metric]) for e, m in pts if m.get(metric) is not None]
                series[label] = ([e for e, _ in xy], [v for _, v in xy])
            by_eps = {e: m.get("adv_accuracy") for e, m in pts}
            table.append({"label": label, "clean": report.row(rid).get("clean_accuracy"),
                          "by_eps": [by_eps.get(e) for e in eps_values]})
        out.append({"family": family, "eps": eps_values, "table": table,
                    "uri": plots.data_uri(plots.line_panels(panels, "eps"))})
    return out


def _sweep_axes(report: RunReport) -> dict[tuple[str, str, str], dict[str, float]]:
    """(model, defense plugin, sweep parameter) -> row id -> the parameter's value, for every
    defense that declares a sweep axis; the undefended twin of the model is put at the
    declared ``sweep_origin`` (where the defense is no defense) unless a row is there."""
    axes: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    origins: dict[tuple[str, str, str], float | None] = {}
    for c in report.cells:
        traits = defense_traits(c)
        if traits is None or not traits.sweep:
            continue
        value = c["params"].get("defense", {}).get(traits.sweep)
        if isinstance(value, int | float) and not isinstance(value, bool):
            name = (c.get("plugins") or {}).get("defense", {}).get("name", c["defense_id"])
            key = (c["model_id"], str(name), traits.sweep)
            axes[key][c["row_id"]] = float(value)
            origins[key] = traits.sweep_origin
    for key, rows in axes.items():
        origin = origins.get(key)
        twin = next((r for r in report.rows if r["model_id"] == key[0] and (
            t := row_defense_traits(report, r["row_id"])) is not None and t.kind == "none"),
            None)
        if origin is not None and twin is not None and origin not in rows.values():
            rows[twin["row_id"]] = float(origin)
    return {k: v for k, v in axes.items() if len(set(v.values())) >= 2}


def _defense_sweeps(report: RunReport) -> list[dict[str, Any]]:
    out = []
    for (model, defense, param), temps in _sweep_axes(report).items():
        order = sorted(temps, key=lambda r: temps[r])
        success: plots.Series = {}
        for col in dict.fromkeys(_column(c) for c in report.cells):
            xy = [(temps[c["row_id"]], c["metrics"]["success_rate"]) for c in report.cells
                  if c["row_id"] in temps and _column(c) == col and c["status"] == "ok"
                  and c["metrics"].get("success_rate") is not None]
            if xy:
                xy.sort()
                success[col] = ([t for t, _ in xy], [v for _, v in xy])
        clean = [(temps[r], report.row(r).get("clean_accuracy")) for r in order]
        clean_series: plots.Series = {"clean accuracy": (
            [t for t, v in clean if v is not None], [v for _, v in clean if v is not None])}
        panels = [("attack success rate", success), ("clean accuracy", clean_series)]
        out.append({"model": model, "defense": defense, "param": param,
                    "points": [f"{t:g}" for t in sorted(set(temps.values()))],
                    "uri": plots.data_uri(plots.line_panels(panels, f"{defense} {param}"))})
    return out


def _histograms(report: RunReport, hist: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in report.white_box:  # transferred targeted examples: their success is in the matrix
        h = hist.get(c["id"])
        if h is None:
            continue
        counts = [int(h["counts"].get(k, 0)) for k in range(h["classes"])]
        total = sum(counts)
        hits = sum(counts[t] for t in h["targets"] if 0 <= t < len(counts))
        out.append({"cell_id": c["cell_id"], "row": _row_label(report, c["row_id"]),
                    "attack": _column(c), "targets": h["targets"], "hits": hits,
                    "total": total, "share": hits / total if total else None,
                    "uri": plots.data_uri(plots.class_histogram(
                        counts, h["targets"], report.run.get("class_names")))})
    return out


def _class_name(report: RunReport, k: Any) -> str:
    names = report.run.get("class_names") or []
    if k is None:
        return "?"
    return f"'{names[k]}'" if 0 <= k < len(names) else str(k)


def _caption(report: RunReport, pred: Any, conf: Any) -> str:
    return _class_name(report, pred) + ("" if conf is None else f" {100 * conf:.0f}%")


def _pick_cells(cells: list[Cell]) -> list[Cell]:
    """One cell per attack family of a row: for an eps sweep, the smallest eps that reaches
    half the family's best success rate (a perturbation still small enough to see what it
    does), else the largest eps."""
    families: dict[str, list[Cell]] = defaultdict(list)
    for c in cells:
        families[_family(c)].append(c)
    picked = []
    for members in families.values():
        members.sort(key=lambda c: _eps_of(c) or 0.0)
        rates = [c["metrics"].get("success_rate") or 0.0 for c in members]
        best = max(rates)
        picked.append(next((c for c, r in zip(members, rates, strict=True)
                            if best > 0 and r >= best / 2), members[-1]))
    return picked


def _example_grids(report: RunReport,
                   examples: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per row: the clean inputs, then one line of adversarial copies per attack family."""
    out = []
    for rid in report.row_ids:
        cells = [c for c in report.white_box if c["row_id"] == rid and c["id"] in examples]
        if not cells:
            continue
        picked = _pick_cells(cells)
        first = examples[picked[0]["id"]]
        lines: list[plots.GridLine] = [("clean", [
            (e["clean"], f"{_class_name(report, e['label'])}: "
                         f"{_caption(report, e['clean_pred'], e['clean_conf'])}", False)
            for e in first])]
        for c in picked:
            lines.append((c["attack_id"], [
                (e["adv"], _caption(report, e["adv_pred"], e["adv_conf"]), bool(e["success"]))
                for e in examples[c["id"]]]))
        out.append({"row": _row_label(report, rid), "cells": [c["cell_id"] for c in picked],
                    "uri": plots.data_uri(plots.example_grid(lines))})
    return out


def _timings(report: RunReport) -> dict[str, Any]:
    cells = [{"row": _row_label(report, c["row_id"]), "attack": _column(c),
              "status": c["status"], "samples": c.get("samples"),
              "generate": c["timings"].get("generate"),
              "per_sample": c["timings"].get("per_sample"),
              "evaluate": c["timings"].get("evaluate")} for c in report.cells]
    longest = max((c["generate"] or 0.0 for c in cells), default=0.0)
    for c in cells:
        c["bar"] = 100 * (c["generate"] or 0.0) / longest if longest else 0.0
    rows = [{"label": _row_label(report, r["row_id"]), "status": r.get("status"),
             "seconds": r.get("train_seconds"), "clean": r.get("clean_accuracy"),
             "balanced": r.get("balanced_accuracy"), "samples": r.get("eval_samples"),
             "training": r.get("training") or []} for r in report.rows]
    return {"cells": cells, "rows": rows}


def _pct(value: Any) -> str:
    return "\u2013" if value is None else f"{100 * value:.1f}%"


def _int(value: Any) -> str:
    return "\u2013" if value is None else f"{value:.0f}"


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
        "verdicts": [{**v, "row": _row_label(report, v["row_id"])}
                     for v in report.verdicts],
        "sweeps": _eps_sweeps(report), "defense_sweeps": _defense_sweeps(report),
        "histograms": _histograms(report, hist or {}),
        "examples": _example_grids(report, examples or {}),
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
    env.filters.update(pct=_pct, secs=_secs, int=_int)
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
