"""The terminal report fits a narrow terminal: short attack labels, a legend, split matrices."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from bench.render.terminal import attack_labels, print_report
from bench.results.model import RunReport
from bench.results.threat import tier

# the quick start's attack ids (the parameterized ones differ only inside the brackets)
ATTACKS = ["fgsm[eps=0.05]", "fgsm[eps=0.1]", "fgsm[eps=0.2]", "fgsm[eps=0.3]",
           "bim[target=none,eps=0.1,eps_step=0.01]", "bim[target=next,eps=0.2,eps_step=0.02]",
           "ifgsm[loss=ce]", "ifgsm[loss=margin]", "cw-l2-native", "cw-l2", "cw-linf"]
DEFENSES = ["none", "distillation[temperature=10]", "distillation[temperature=100]"]
FLAG = {"name": "zero-gradient", "status": "warn", "evidence": "91% zero gradients"}


def _cell(defense: str, i: int, attack: str, source: str | None = None) -> dict[str, Any]:
    row = f"model=cnn/defense={defense}"
    cell_id = f"{row}/attack={attack}" + (f"/source={source}" if source else "")
    flagged = defense != "none" and source is None
    return {"id": len(cell_id) + i, "cell_id": cell_id, "row_id": row, "model_id": "cnn",
            "defense_id": defense, "attack_id": attack, "status": "ok", "error": None,
            "samples": 297, "source_row": source,
            "metrics": {"success_rate": (i + 1) / 20 + (0.001 if source else 0)},
            "timings": {"generate": 1.0 + i},
            "info": {"flags": [FLAG] if flagged else []}}


def quickstart_like() -> RunReport:
    rows = [{"row_id": f"model=cnn/defense={d}", "model_id": "cnn", "defense_id": d,
             "status": "ok", "clean_accuracy": 0.933, "train_seconds": 30.0, "training": [],
             "diagnostics": {}} for d in DEFENSES]
    cells = [_cell(d, i, a) for d in DEFENSES for i, a in enumerate(ATTACKS)
             if d == "none" or not a.startswith("cw-l")]
    cells += [_cell(d, i, a, source="model=cnn/defense=none") for d in DEFENSES[1:]
              for i, a in enumerate(ATTACKS)]
    run = {"id": 1, "suite_name": "quickstart", "status": "finished",
           "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:03:00+00:00"}
    return RunReport(run, rows, cells)


def render(width: int, wide: bool = False) -> str:
    console = Console(width=width, record=True, color_system=None)
    print_report(quickstart_like(), console, wide=wide)
    return console.export_text()


def test_labels_are_short_and_distinct():
    labels = attack_labels(quickstart_like())
    assert list(labels) == ATTACKS
    assert list(labels.values()) == [f"A{i}" for i in range(1, 12)]


def test_80_columns_nothing_cut_and_every_attack_in_the_legend():
    text = render(80)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80, max(lines, key=len)
    assert "…" not in text  # rich marks every truncated header or value with an ellipsis
    legend = lines[lines.index("attacks:") + 1:][:len(ATTACKS)]
    assert [line.split(maxsplit=1) for line in legend] == [
        [f"A{i}", aid] for i, aid in enumerate(ATTACKS, 1)]
    # every label heads a column, once per matrix (white-box, transfer, timings)
    for i in range(1, 12):
        heads = [line for line in lines if line.lstrip().startswith("defense")]
        assert sum(f" A{i} " in f"{h} " for h in heads) == 3, (i, heads)
    # values stay readable: the flagged distilled cells carry their mark, percentages whole
    assert "5.0!" in text and "55.0" in text
    assert "distillation" in text and "[temperature=100]" in text


def test_100_columns_one_table_per_matrix():
    lines = render(100).splitlines()
    assert max(map(len, lines)) <= 100
    heads = [line for line in lines if line.lstrip().startswith("defense")]
    assert len(heads) == 3 and all(h.rstrip().endswith("A11") for h in heads), heads


def test_wide_prints_full_ids_as_headers():
    text = render(400, wide=True)
    assert "attacks:" not in text
    for aid in ATTACKS:
        assert aid.split("[")[0] in text
    assert "[target=next,eps=0.2,eps_step=0.02]" in text
    assert "success_rate, white-box (rows: model x defense; columns: attacks)" in text


def test_robust_accuracy_per_threat_model_shows_each_tiers_interval():
    report = quickstart_like()
    head, more = tier(20, 14, 9), tier(297, 10, 120)  # 45.0 % of 20, 40.4 % of 297
    report.threats = {"models": [{"label": "L-inf 0.1", "norm": "inf", "eps": 0.1}],
                      "rows": {r: [{"label": "L-inf 0.1", "norm": "inf", "eps": 0.1, **head,
                                    "tiers": [head, more]}] for r in report.row_ids}}
    console = Console(width=80, record=True, color_system=None)
    print_report(report, console)
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    # the wider side of the exact 95 % intervals: 9 of 20 in [23.1, 68.5] %, 120 of 297 in
    # [34.8, 46.2] %
    assert text.count("45.0 ±23.5 (20, 14)") == text.count("40.4 ±5.8 (297, 10)") == 3
    assert "± the wider side of the exact 95 % interval" in text
