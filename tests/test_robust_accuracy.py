"""RunReport.robust_accuracy: the per-sample worst case over every cell of a row."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta

from bench.results.model import load_report
from bench.results.store import Store

ROW, OTHER = "model=cnn/defense=none", "model=cnn/defense=distillation"


def tier(samples: int, attacks: int, robust: int) -> dict:
    """The expected tier, with the Clopper-Pearson 95 % interval from its beta quantiles."""
    low = 0.0 if robust == 0 else beta.ppf(0.025, robust, samples - robust + 1)
    high = 1.0 if robust == samples else beta.ppf(0.975, robust + 1, samples - robust)
    return {"samples": samples, "attacks": attacks, "robust_accuracy": robust / samples,
            "interval": pytest.approx([low, high])}


def headed(*tiers: dict) -> dict:
    return {**tiers[0], "tiers": list(tiers)}


def per_sample(label: list[int], clean: list[int], adv: list[int]) -> dict[str, np.ndarray]:
    y, c, a = (np.array(v) for v in (label, clean, adv))
    return {"y": y, "clean_pred": c, "adv_pred": a, "success": (c == y) & (a != y)}


def add(store: Store, run: int, attack: str, per: dict | None, *, row: str = ROW,
        status: str = "ok", source: str | None = None, samples: int | None = None) -> None:
    n = len(per["y"]) if per is not None else 0
    store.add_cell(run, {
        "cell_id": f"{row}/attack={attack}" + (f"/source={source}" if source else ""),
        "row_id": row, "model_id": "cnn", "defense_id": row.split("=")[-1], "attack_id": attack,
        "attack_name": attack, "samples": n if samples is None else samples, "status": status,
        "error": None if status == "ok" else "boom", "plugins": {}, "params": {},
        "source_row": source}, {}, {}, per)


def report(tmp_path, cells) -> dict:
    store = Store(tmp_path / "r.sqlite")
    run = store.create_run("s", "s.yaml", {"name": "s"}, 0, None, {}, {}, [], len(cells))
    for args, kwargs in cells:
        add(store, run, *args, **kwargs)
    return load_report(store, run).robust_accuracy()


def test_worst_case_counts_clean_errors_and_transfer_cells(tmp_path):
    y = [0, 1, 2, 3, 4]
    robust = report(tmp_path, [
        (("fgsm", per_sample(y, [0, 1, 2, 3, 0], [0, 1, 9, 3, 0])), {}),  # breaks 2; 4 wrong
        (("bim", per_sample(y, [0, 1, 2, 3, 0], [0, 1, 2, 9, 0])), {}),  # breaks 3
        (("fgsm", per_sample(y, [0, 1, 2, 3, 0], [9, 1, 2, 3, 0])), {"source": OTHER}),
        (("cw", per_sample(y, y, [9, 9, 9, 9, 9])), {"status": "failed"}),  # ignored
    ])
    assert robust == {ROW: headed(tier(5, 3, 1))}
    assert robust[ROW]["interval"] == pytest.approx([0.00505, 0.71642], abs=1e-5)


def test_rows_are_separate_and_tiers_ascend(tmp_path):
    y6 = [1, 1, 1, 1, 1, 1]
    robust = report(tmp_path, [
        (("fgsm", per_sample(y6, y6, [1, 1, 0, 1, 1, 1])), {}),
        (("cw", per_sample(y6[:3], y6[:3], [1, 1, 1])), {}),
        (("cw", per_sample(y6[:4], y6[:4], [0, 1, 1, 1])), {"row": OTHER}),
    ])
    assert robust[ROW]["tiers"] == [tier(3, 2, 2), tier(6, 1, 5)]
    assert (robust[ROW]["samples"], robust[ROW]["robust_accuracy"]) == (3, 2 / 3)
    assert robust[OTHER] == headed(tier(4, 1, 3))


def test_rows_without_samples_are_left_out(tmp_path):
    robust = report(tmp_path, [
        (("fgsm", per_sample([1], [1], [1])), {"status": "failed"}),
        (("bim", None), {"row": OTHER, "samples": 0}),
    ])
    assert robust == {}


def test_without_a_store_there_is_nothing_to_compute(tmp_path):
    from bench.results.model import RunReport

    assert RunReport({}, [], [{"row_id": ROW, "attack_id": "a", "status": "ok",
                               "samples": 1, "id": 1}]).robust_accuracy() == {}


def test_a_row_without_cells_does_not_end_the_others(tmp_path):
    robust = report(tmp_path, [
        (("fgsm", per_sample([1], [1], [1])), {"status": "failed"}),
        (("fgsm", per_sample([1, 2], [1, 2], [1, 0])), {"row": OTHER}),
    ])
    assert robust == {OTHER: headed(tier(2, 1, 1))}
