"""suites/emnist.yaml, scaled down by overrides, on the real EMNIST files in ../shared/data."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO_ROOT, SHARED_EMNIST

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(not SHARED_EMNIST.is_dir(), reason="../shared/data/emnist is absent"),
]

SMALL = [
    "--set", "dataset.params.variant=bymerge", "--set", f"dataset.params.data_dir={SHARED_EMNIST}",
    "--set", "dataset.train=test[:5000]", "--set", "dataset.test=test[85%:]",
    "--set", "models[0].params.epochs=2", "--set", "models[0].params.optimizer=adam",
    "--set", "models[0].params.learning_rate=0.001",
    # the undefended row and T = 100 (the adversarially trained row trains eight times longer)
    "--set", "defenses=[{name: none}, {name: distillation, params: {temperature: [100]}}]",
    "--set", "attacks[fgsm].params.eps=[0.01, 0.1]",
    # ART's CW takes minutes per row on 47 classes; ours runs, with fewer iterations (their
    # success is tested elsewhere; here the suite must run end to end), and Square with fewer
    # queries
    "--set", "attacks[cw-l2-native].samples=10", "--set", "attacks[cw-linf-native].samples=10",
    "--set", "attacks[cw-l0-native].samples=10",
    "--set", "attacks[cw-l2-native].params={iterations: 50, binary_search_steps: 3}",
    "--set", "attacks[cw-linf-native].params={iterations: 50}",
    "--set", "attacks[cw-l0-native].params={iterations: 20}",
    "--set", "attacks[square].params.max_iter=100",
    "--limit", "40", "--set", "exclude=[{attack: cw-l2}, {attack: cw-linf}]",
]


def test_reference_suite_scaled_down_runs_on_real_emnist(tmp_path):
    env = {**os.environ, "ARTBENCH_STORE": str(tmp_path / "s.sqlite"),
           "ARTBENCH_CACHE_DIR": str(tmp_path / "cache")}
    res = subprocess.run([sys.executable, "-m", "bench", "run", "suites/emnist.yaml", "--quiet",
                          *SMALL], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                         timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(subprocess.run(
        [sys.executable, "-m", "bench", "report", "-f", "json"], capture_output=True, text=True,
        env=env, cwd=REPO_ROOT, check=True).stdout)
    assert [r["defense_id"] for r in report["rows"]] == ["none", "distillation"]
    # 47 classes (chance about 2 %), two epochs on 5,000 images: measured 55 % and 22 %
    none, distilled = (r["clean_accuracy"] for r in report["rows"])
    assert none > 0.3 and distilled > 0.1, report["rows"]
    listed = subprocess.run([sys.executable, "-m", "bench", "validate", "suites/emnist.yaml",
                             "--list", *SMALL[:-4], *SMALL[-2:]], capture_output=True, text=True,
                            env=env, cwd=REPO_ROOT, check=True).stdout
    expected = {line.split()[0] for line in listed.splitlines() if line.startswith("  model=")}
    assert {c["cell_id"] for c in report["cells"]} == expected
    assert all(c["status"] == "ok" for c in report["cells"])
    white = {c["cell_id"]: c for c in report["cells"] if not c.get("source_row")}
    # transfer: every white-box cell of the undefended row is evaluated on the distilled one too
    transfer = [c for c in report["cells"] if c.get("source_row")]
    assert len(transfer) == sum(1 for c in white.values() if c["defense_id"] == "none")
    cells = {(c["defense_id"], c["attack_id"]): c for c in white.values()}
    # --limit 40 caps every cell; the native CW attacks asked for 10
    assert {a: c["samples"] for (d, a), c in cells.items() if d == "none"} == {
        a: 10 if a.startswith("cw-") and a.endswith("-native") else 40
        for (d, a) in cells if d == "none"}
    # the targeted cell's counts, recomputed from its stored per-sample records
    targeted = cells[("none", "bim[target=46]")]
    db = sqlite3.connect(tmp_path / "s.sqlite")
    records = db.execute("SELECT s.label, s.adv_pred, s.target FROM samples s JOIN cells c ON "
                         "s.cell = c.id WHERE c.cell_id = ? ORDER BY s.idx",
                         (targeted["cell_id"],)).fetchall()
    label, adv, target = (np.array(v) for v in zip(*records, strict=True))
    assert len(records) == 40 and (target == 46).all()
    m = targeted["metrics"]
    assert m["success_denominator"] == int((label != 46).sum())
    assert m["predicted_as_target"] == int((adv == 46).sum())
    assert m["success_count"] == int(((label != 46) & (adv == 46)).sum())
    weak, strong = (cells[("none", f"fgsm[eps={e}]")]["metrics"]["success_rate"]
                    for e in (0.01, 0.1))
    assert strong > weak
    # the tables of docs/reproduction.md, printed from this run's store
    tables = subprocess.run([sys.executable, "scripts/reproduction_tables.py"], capture_output=True,
                            text=True, env=env, cwd=REPO_ROOT, check=True).stdout
    assert f"| none | {100 * none:.1f} % |" in tables
    assert f"| T = 100 | {100 * distilled:.1f} % |" in tables
    fgsm = cells[("none", "fgsm[eps=0.1]")]["metrics"]["adv_accuracy"]
    assert f"| 0.1 | 22.8 % | {100 * fgsm:.1f} % |" in tables  # their Table 1 beside ours
    for heading in ("## Robust accuracy per threat model", "## Convergence check",
                    "## Gradient-masking verdicts"):
        assert heading in tables
    convergence = [line for line in tables.splitlines() if "pgd-native[eps=0.1,loss=ce]" in line]
    assert len(convergence) == 2 and all(line.endswith(("| ok |", "| warn |"))
                                         for line in convergence), convergence
