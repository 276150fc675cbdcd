"""Print the tables of docs/reproduction.md from a stored run of suites/emnist.yaml.

    python scripts/reproduction_tables.py [RUN]     (store: $ARTBENCH_STORE or the default)

Every number comes from the store; the study's figures (../shared/docs/reference-study.md) are
set beside ours.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from typing import Any

from bench.results.model import RunReport, load_report
from bench.results.stats import ROW_FLAGS, masking_verdicts
from bench.results.store import Store
from bench.results.threat import plus_minus

THEIR_TABLE_1 = {0.001: 0.8053, 0.002: 0.7788, 0.005: 0.5993, 0.008: 0.4025, 0.01: 0.3192,
                 0.05: 0.2289, 0.1: 0.2282, 0.5: 0.2284}
CW_MNIST = {"cw-l0-native": ("l0", 8.5), "cw-l2-native": ("l2", 1.36),
            "cw-linf-native": ("linf", 0.13)}


def pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def label(report: RunReport, row_id: str) -> str:
    """``none``, ``T = 10`` (the temperature its networks were trained at, whether or not the
    id names it), ``adversarial training``, or the defense's id."""
    row = report.row(row_id)
    defense = row.get("defense_id", "")
    if defense.startswith("adversarial-training"):
        return "adversarial training"
    if defense.startswith("distillation") and row.get("training"):
        return f"T = {row['training'][-1]['temperature']:g}"
    return defense


def metric(report: RunReport, row_id: str, attack_id: str, name: str,
           source: str | None = None) -> Any:
    cell = report.cell(row_id, attack_id, source)
    return None if cell is None or cell["status"] != "ok" else cell["metrics"].get(name)


def main() -> None:
    store = Store(readonly=True)
    report = load_report(store, sys.argv[1] if len(sys.argv) > 1 else None)
    rows = report.row_ids
    none = next(r for r in rows if r.endswith("/defense=none"))
    defended = [r for r in rows if r != none]
    t100 = next((r for r in rows if r.endswith("temperature=100]")), None)
    run = report.run
    wall = "-"
    if run.get("finished"):
        span = datetime.fromisoformat(run["finished"]) - datetime.fromisoformat(run["started"])
        wall = f"{span.total_seconds() / 60:.0f} min"
    print(f"run {run['id']} ({run['status']}), commit {run.get('git_commit')}, "
          f"{len(report.white_box)} white-box + {len(report.transfer)} transfer cells, "
          f"wall time {wall}")
    train = sum(r.get("train_seconds") or 0 for r in report.rows)
    gen = sum(c["timings"].get("generate") or 0 for c in report.white_box)
    print(f"training and loading {train / 60:.0f} min, attack generation {gen / 60:.0f} min\n")

    base = report.row(none)["clean_accuracy"]
    print("## Clean accuracy\n")
    body = []
    for r in rows:
        acc = report.row(r)["clean_accuracy"]
        body.append([label(report, r), pct(acc), pct(report.row(r)["balanced_accuracy"]),
                     "-" if r == none else f"{100 * (base - acc):+.2f} pts"])
    print(table(["model", "clean accuracy", "balanced accuracy", "cost vs undefended"], body))

    print("\n## Table 1: accuracy of the undistilled model under attack\n")
    body = []
    for eps, theirs in THEIR_TABLE_1.items():
        e = f"{eps:g}"
        body.append([e, pct(theirs),
                     pct(metric(report, none, f"fgsm[eps={e}]", "adv_accuracy")),
                     pct(metric(report, none, f"ifgsm[eps={e},loss=ce]", "adv_accuracy")),
                     pct(metric(report, none, f"ifgsm[eps={e},loss=ce]", "success_rate")),
                     pct(metric(report, none, f"ifgsm[eps={e},loss=margin]", "success_rate"))])
    print(table(["eps", "theirs: accuracy", "ours: accuracy, FGSM",
                 "ours: accuracy, targeted I-FGSM to 't'", "ours: success to 't', CE",
                 "ours: success to 't', margin"], body))

    print("\n## Targeted I-FGSM, eps 0.01, 10 iterations, target 't' (class 46)\n")
    body = []
    for r in rows:
        m = report.cell(r, "ifgsm[eps=0.01,loss=ce]")
        if m and m["status"] == "ok":
            body.append([label(report, r), f"{m['metrics']['predicted_as_target']:.0f} of "
                         f"{m['metrics']['samples']:.0f}",
                         pct(m["metrics"]["predicted_as_target"] / m["metrics"]["samples"])])
    print(table(["model", "predicted as 't'", "share"], body))

    if t100:
        print("\n## Examples crafted on the undistilled model, evaluated on T = 100\n")
        body = []
        for c in report.transfer:
            if c["row_id"] == t100 and c["status"] == "ok":
                white = report.cell(none, c["attack_id"])
                body.append([c["attack_id"], pct(c["metrics"].get("adv_accuracy")),
                             pct(white["metrics"].get("adv_accuracy") if white else None),
                             pct(metric(report, t100, c["attack_id"], "adv_accuracy"))])
        print(table(["attack", "T = 100 accuracy on transferred examples",
                     "undistilled accuracy (white-box)", "T = 100 accuracy (white-box)"], body))

    print("\n## Examples crafted on the undistilled model, on every defended model "
          "(accuracy: transferred / white-box)\n")
    attacks = ["fgsm[eps=0.5]", "ifgsm[eps=0.5,loss=ce]", "pgd-native[eps=0.1,steps=20,loss=ce]",
               "pgd-native[eps=0.3,steps=20,loss=ce]", "pgd-native[eps=0.3,steps=20,loss=margin]",
               "square", "cw-l2-native"]
    print(table(["model", *attacks],
                [[label(report, r), *(f"{pct(metric(report, r, a, 'adv_accuracy', none))} / "
                                      f"{pct(metric(report, r, a, 'adv_accuracy'))}"
                                      for a in attacks)] for r in defended]))

    print("\n## Success rate against each temperature (white-box)\n")
    attacks = ["fgsm[eps=0.1]", "fgsm[eps=0.5]", "ifgsm[eps=0.5,loss=ce]",
               "ifgsm[eps=0.5,loss=margin]", "bim[target=none]", "cw-l0-native",
               "cw-l2-native", "cw-linf-native", "cw-l2", "cw-linf"]
    print(table(["model", *attacks],
                [[label(report, r), *(pct(metric(report, r, a, "success_rate")) for a in attacks)]
                 for r in rows]))

    print("\n## Carlini-Wagner distortion (mean over successful samples)\n")
    body = []
    for a, (norm, mnist) in CW_MNIST.items():
        for r in (none, *defended):
            m = report.cell(r, a)
            if m and m["status"] == "ok":
                body.append([a, label(report, r), pct(m["metrics"].get("success_rate")),
                             f"{m['metrics'].get(f'{norm}_mean') or float('nan'):.3g}",
                             f"{mnist:g} (C&W, MNIST, 100 %)"])
    print(table(["attack", "model", "success", "mean distortion", "C&W 2017"], body))

    print("\n## Beyond the study: accuracy under PGD (20 steps, random start) and Square\n")
    attacks = [f"pgd-native[eps={e},steps=20,loss={loss}]" for e in (0.1, 0.3)
               for loss in ("ce", "margin")] + ["square"]
    heads = [a.replace("pgd-native[", "PGD ").replace(",steps=20,loss=", " ").rstrip("]")
             .replace("square", "Square 0.1") for a in attacks]
    print(table(["model", "clean", *heads],
                [[label(report, r), pct(report.row(r)["clean_accuracy"]),
                  *(pct(metric(report, r, a, "adv_accuracy")) for a in attacks)]
                 for r in rows]))

    print("\n## Robust accuracy per threat model: on the most samples / with the most attacks "
          "(\u00b1 95 % interval; samples, attacks)\n")
    models = report.threats.get("models", [])
    body = []
    for r in rows:
        cells = []
        for e in report.threats.get("rows", {}).get(r, []):
            tiers = sorted(e.get("tiers") or [], key=lambda t: t["samples"])
            shown = [tiers[-1], tiers[0]] if len(tiers) > 1 else tiers
            cells.append(" / ".join(f"{pct(t['robust_accuracy'])} {plus_minus(t)} "
                                    f"({t['samples']}, {t['attacks']})" for t in shown) or "-")
        body.append([label(report, r), *cells])
    print(table(["model", *(m["label"] for m in models)], body))

    print("\n## Convergence check (PGD, 20 vs 40 steps: success rates)\n")
    body = []
    for c in report.white_box:
        for f in c.flags:
            if f.name == "not-converged":
                m = re.search(r"\) ([\d.]+%) vs ([\d.]+%) \(of the (\d+) samples both counted, "
                              r"(\d+) broken by the first only, (\d+) by the second only, "
                              r"p = ([^,)]+)", f.evidence)
                if m:
                    body.append([label(report, c["row_id"]),
                                 c["attack_id"].replace(",steps=20", ""), m[2], m[1],
                                 f"{m[4]} / {m[5]} of {m[3]}", m[6], f.status])
    print(table(["model", "attack", "20 steps", "40 steps",
                 "broken by 40 steps only / by 20 only", "p (one-sided)", "flag"], body))

    print("\n## Cell flags per row (warnings on white-box cells; row-level flags: verdicts)\n")
    for r in rows:
        fired: dict[str, int] = {}
        for c in report.white_box:
            if c["row_id"] == r:
                for f in report.warnings(c):
                    if f.name not in ROW_FLAGS:
                        fired[f.name] = fired.get(f.name, 0) + 1
        print(f"- {label(report, r)}: "
              + (", ".join(f"{k} ({v})" for k, v in sorted(fired.items())) or "none"))

    print("\n## Gradient-masking verdicts\n")
    verdicts = {v["row_id"]: v["text"] for v in masking_verdicts(report)}
    for r in rows:
        print(f"- {label(report, r)}: {verdicts.get(r, 'no row-level flag')}")


if __name__ == "__main__":
    main()
