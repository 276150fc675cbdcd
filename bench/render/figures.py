"""The data of the HTML report's figures: accuracy and success versus eps per attack family,
versus a defense's declared strength, and predicted-class histograms of targeted cells."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.render import plots
from bench.render.naming import attack_family, column, eps_of, row_label
from bench.results.model import RunReport
from bench.results.stats import defense_traits, row_defense_traits


def eps_sweeps(report: RunReport) -> list[dict[str, Any]]:
    points: dict[str, dict[str, list[tuple[float, dict[str, Any]]]]] = defaultdict(
        lambda: defaultdict(list))
    for c in report.cells:
        eps = eps_of(c)
        if c["status"] == "ok" and eps is not None:
            points[attack_family(c)][c["row_id"]].append((eps, c["metrics"]))
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
            label = row_label(report, rid)
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


def defense_sweeps(report: RunReport) -> list[dict[str, Any]]:
    out = []
    for (model, defense, param), temps in _sweep_axes(report).items():
        order = sorted(temps, key=lambda r: temps[r])
        success: plots.Series = {}
        for col in dict.fromkeys(column(c) for c in report.cells):
            xy = [(temps[c["row_id"]], c["metrics"]["success_rate"]) for c in report.cells
                  if c["row_id"] in temps and column(c) == col and c["status"] == "ok"
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


def histograms(report: RunReport, hist: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in report.white_box:  # transferred targeted examples: their success is in the matrix
        h = hist.get(c["id"])
        if h is None:
            continue
        counts = [int(h["counts"].get(k, 0)) for k in range(h["classes"])]
        total = sum(counts)
        hits = sum(counts[t] for t in h["targets"] if 0 <= t < len(counts))
        out.append({"cell_id": c["cell_id"], "row": row_label(report, c["row_id"]),
                    "attack": column(c), "targets": h["targets"], "hits": hits,
                    "total": total, "share": hits / total if total else None,
                    "uri": plots.data_uri(plots.class_histogram(
                        counts, h["targets"], report.run.get("class_names")))})
    return out
