"""The HTML report's robust accuracy per threat model (a table) and its robustness curves
(accuracy versus budget per norm, one line per row), from the stored statistics."""

from __future__ import annotations

from typing import Any

from bench.render import plots
from bench.results.model import RunResults

NORM_NAMES = {"inf": "L-inf", "2": "L2", "1": "L1", "0": "L0"}


def _label(results: RunResults, row_id: str) -> str:
    row = results.row(row_id)
    models = {results.row(r)["model_id"] for r in results.row_ids}
    return row["defense_id"] if len(models) == 1 else f"{row['model_id']} / {row['defense_id']}"


def threat_context(results: RunResults) -> dict[str, Any] | None:
    """``{"models", "rows", "curves"}`` for the template; None without threat models."""
    threats = results.threats or {}
    models = threats.get("models") or []
    if not models:
        return None
    rows = []
    for rid in results.row_ids:
        row = results.row(rid)
        entries = (threats.get("rows") or {}).get(rid) or []
        rows.append({"label": _label(results, rid),
                     "clean": row.get("clean_accuracy") if row is not None else None,
                     "entries": entries})
    curves = []
    by_norm: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    shared: dict[str, list[int]] = {}
    for rid, row_curves in (threats.get("curves") or {}).items():
        for c in row_curves:
            if len(c["points"]) < 2:
                continue
            xs, ys = zip(*c["points"], strict=True)
            by_norm.setdefault(c["norm"], {})[_label(results, rid)] = (list(xs), list(ys))
            shared.setdefault(c["norm"], []).append(c["samples"])
    for norm, series in by_norm.items():
        name = NORM_NAMES.get(norm, norm)
        curves.append({"norm": name, "samples": min(shared[norm]),
                       "uri": plots.data_uri(plots.step_curves(
                           series, f"budget eps ({name})", "robust accuracy"))})
    return {"models": models, "rows": rows, "curves": curves}
