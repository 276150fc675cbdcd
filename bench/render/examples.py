"""Per-sample data of the HTML report, loaded lazily through the results model: targeted
cells' predicted classes and the kept example images, drawn as grids per row."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.render import plots
from bench.render.naming import attack_family, eps_of, row_label
from bench.results.model import RunReport
from bench.results.records import Cell


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
        families[attack_family(c)].append(c)
    picked = []
    for members in families.values():
        members.sort(key=lambda c: eps_of(c) or 0.0)
        rates = [c["metrics"].get("success_rate") or 0.0 for c in members]
        best = max(rates)
        picked.append(next((c for c, r in zip(members, rates, strict=True)
                            if best > 0 and r >= best / 2), members[-1]))
    return picked


def example_grids(report: RunReport,
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
        out.append({"row": row_label(report, rid), "cells": [c["cell_id"] for c in picked],
                    "uri": plots.data_uri(plots.example_grid(lines))})
    return out
