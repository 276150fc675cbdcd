"""End to end: the README's main job, `bench run suites/quickstart.yaml`, cold then warm."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quickstart")
    env = {**os.environ, "ARTBENCH_STORE": str(tmp / "store.sqlite"),
           "ARTBENCH_CACHE_DIR": str(tmp / "cache")}

    def bench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                              text=True, env=env, cwd=REPO_ROOT, timeout=1200)

    cold = bench("run", "suites/quickstart.yaml", "--quiet")
    assert cold.returncode == 0, cold.stdout + cold.stderr
    # the same networks again, on a 20-sample prefix, without the Carlini-Wagner cells (a third
    # of the warm run's time; the networks and the prefix are what this run checks)
    warm = bench("run", "suites/quickstart.yaml", "--quiet", "--limit", "20",
                 "--set", "exclude=[{attack: 'cw-*'}]")
    assert warm.returncode == 0, warm.stdout + warm.stderr
    reports = [json.loads(bench("report", str(i), "-f", "json").stdout) for i in (1, 2)]
    return cold, reports, bench


#: the undefended and T = 100 rows of the quick start (cached by the runs above) under the
#: attacks a reviewer trusts, at L-inf 0.1: PGD on the cross-entropy, APGD on the DLR loss,
#: Square, and Carlini-Wagner
MASKING = [
    "--set", "defenses=[{name: none}, {name: distillation, params: {temperature: [100]}}]",
    "--set", "attacks=[{name: pgd-native, params: {eps: 0.1, steps: 20}}, "
    "{name: apgd, params: {eps: 0.1, loss: dlr, max_iter: 20, nb_random_init: 1, "
    "batch_size: 512}}, {name: square, params: {eps: 0.1, max_iter: 300, batch_size: 512}, "
    "samples: 100}, {name: cw-l2-native, params: {iterations: 100, binary_search_steps: 5}, "
    "samples: 20}]",
    "--set", "exclude=[]", "--set", "transfer=[]",
    "--set", "threat_models=[{norm: inf, eps: 0.1}]",
]


@pytest.fixture(scope="module")
def masking(quickstart):
    bench = quickstart[2]
    run = bench("run", "suites/quickstart.yaml", "--quiet", *MASKING)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(bench("report", "3", "-f", "json").stdout)


def by_attack(report: dict, defense: str, transfer: bool = False) -> dict[str, dict]:
    return {c["attack_id"]: c for c in report["cells"] if c["defense_id"] == defense
            and (c["source_row"] is not None) == transfer}


def test_matrix_shape_and_sanity(quickstart):
    cold, (report, _), _ = quickstart
    assert "success_rate (%), white-box (model cnn): rows defense, columns attacks" in cold.stdout
    assert "  A14  cw-linf\n" in cold.stdout  # short column labels, full ids in the legend
    assert cold.stderr == ""  # no TensorFlow start-up or retracing lines without --verbose
    rows = report["rows"]
    assert [r["defense_id"] for r in rows] == [
        "none", "distillation[temperature=10]", "distillation[temperature=100]",
        "adversarial-training"]
    assert all(r["clean_accuracy"] > 0.8 for r in rows), rows  # chance is 10 %
    assert len(report["cells"]) == 50 + 42  # white-box + transfer from the undefended row
    assert all(c["status"] == "ok" for c in report["cells"]), [
        (c["cell_id"], c["error"]) for c in report["cells"] if c["status"] != "ok"]
    none = by_attack(report, "none")
    fgsm = [none[f"fgsm[eps={e}]"]["metrics"]["success_rate"] for e in (0.05, 0.1, 0.2, 0.3)]
    assert fgsm == sorted(fgsm) and fgsm[-1] > fgsm[0] + 0.3, fgsm
    for cw in ("cw-l2", "cw-linf"):
        assert none[cw]["metrics"]["success_rate"] >= 0.9, none[cw]["metrics"]
    # every cell records what produced it
    cell = none["fgsm[eps=0.3]"]
    assert cell["params"]["attack"] == {"eps": 0.3, "norm": "inf", "eps_step": 0.1,
                                        "num_random_init": 0, "minimal": False,
                                        "batch_size": 32, "target": None}
    assert cell["timings"]["generate"] > 0 and cell["metrics"]["linf_mean"] <= 0.3 + 1e-5


def test_gradient_masking_is_visible_on_the_distilled_model(quickstart):
    _, (report, _), _ = quickstart
    none, t100 = by_attack(report, "none"), by_attack(report, "distillation[temperature=100]")
    assert (t100["fgsm[eps=0.3]"]["metrics"]["success_rate"]
            < none["fgsm[eps=0.3]"]["metrics"]["success_rate"] - 0.3)
    # CW on the logits, and I-FGSM on the logits' margin, still break it
    assert t100["cw-l2-native"]["metrics"]["success_rate"] >= 0.9
    assert (t100["ifgsm[loss=margin]"]["metrics"]["success_rate"]
            > t100["ifgsm[loss=ce]"]["metrics"]["success_rate"] + 0.3)
    assert none["ifgsm[loss=ce]"]["metrics"]["success_rate"] > 0.5
    # examples crafted on the undefended model transfer better than white-box FGSM does
    transfer = by_attack(report, "distillation[temperature=100]", transfer=True)
    assert (transfer["fgsm[eps=0.3]"]["metrics"]["success_rate"]
            > t100["fgsm[eps=0.3]"]["metrics"]["success_rate"])


def warnings(report: dict, defense: str) -> set[str]:
    return {f["name"] for c in by_attack(report, defense).values()
            for f in c["info"].get("flags", []) if f["status"] == "warn"}


def test_flags_fire_on_distilled_and_stay_quiet_on_undefended(quickstart):
    _, (report, _), _ = quickstart
    assert warnings(report, "none") == set()
    assert {"zero-gradient", "logit-scale", "loss-underflow"} <= warnings(
        report, "distillation[temperature=100]")


def test_adversarial_training_is_real_robustness_beside_distillations_masking(quickstart):
    """At its eps, the adversarially trained network keeps far more accuracy under PGD (either
    loss) than the undefended one, CW needs larger perturbations to fool it, and no sanity flag
    fires: robustness, not masking. The T = 100 student looks robust to PGD on the
    cross-entropy only."""
    _, (report, _), _ = quickstart
    none, at = by_attack(report, "none"), by_attack(report, "adversarial-training")
    t100 = by_attack(report, "distillation[temperature=100]")
    for pgd in ("pgd-native[loss=ce]", "pgd-native[loss=margin]"):
        assert (at[pgd]["metrics"]["adv_accuracy"]
                > none[pgd]["metrics"]["adv_accuracy"] + 0.15), (at[pgd], none[pgd])
    assert (at["cw-l2-native"]["metrics"]["l2_median"]
            > 1.2 * none["cw-l2-native"]["metrics"]["l2_median"])
    # no masking sign; at most the note that CW (100 steps) left a sample unbroken
    assert warnings(report, "adversarial-training") <= {"unbounded-not-total"}
    assert (t100["pgd-native[loss=margin]"]["metrics"]["success_rate"]
            > t100["pgd-native[loss=ce]"]["metrics"]["success_rate"] + 0.3)
    # the gradient-free Square attack sees through the student's masking, not through AT
    assert "gradient-free-beats-gradient" in warnings(report, "distillation[temperature=100]")
    assert (t100["square"]["metrics"]["success_rate"]  # 25.6 % vs 4.9 % measured
            > t100["pgd-native[loss=ce]"]["metrics"]["success_rate"] + 0.1)


def test_robust_accuracy_per_threat_model(quickstart):
    """The declared threat models, per row: at L-inf 0.1 adversarial training keeps far more
    than the undefended model, at L-inf 0.3 nothing is left of the undefended one."""
    _, (report, _), _ = quickstart
    threats = report["threat_models"]
    assert [m["label"] for m in threats["models"]] == ["L-inf 0.1", "L-inf 0.3", "L2 1.5"]

    def acc(defense: str, label: str) -> dict:
        rid = f"model=cnn/defense={defense}"
        return next(e for e in threats["rows"][rid] if e["label"] == label)

    none, at = acc("none", "L-inf 0.1"), acc("adversarial-training", "L-inf 0.1")
    assert none["tiers"][-1]["samples"] == at["tiers"][-1]["samples"] == 297
    assert (at["tiers"][-1]["robust_accuracy"]
            > none["tiers"][-1]["robust_accuracy"] + 0.15), (at, none)
    assert acc("none", "L-inf 0.3")["tiers"][-1]["robust_accuracy"] == 0.0
    # the L2 budget is judged by the Carlini-Wagner examples' measured sizes alone
    assert acc("none", "L2 1.5")["attacks"] >= 1


def test_distillation_looks_robust_to_pgd_only(masking):
    """Distilled T = 100: PGD on the cross-entropy leaves it looking robust, but APGD with the
    DLR loss, Square and Carlini-Wagner bring it down to the undefended model, robust accuracy
    at L-inf 0.1 is near the undefended model's, and the verdict says gradient masking
    (measured: PGD-CE 4.9 % vs 59.1 % success; APGD-DLR 54.7 % on both; Square 44.4 % vs
    40.7 %; robust accuracy 40.7 % vs 36.7 % of 297 digits)."""
    none, t100 = by_attack(masking, "none"), by_attack(masking, "distillation")

    def adv(cells: dict, attack: str) -> float:
        return cells[attack]["metrics"]["adv_accuracy"]

    assert adv(t100, "pgd-native") > adv(none, "pgd-native") + 0.3
    for attack in ("apgd", "square"):
        assert abs(adv(t100, attack) - adv(none, attack)) <= 0.1, attack
        assert adv(t100, attack) < adv(t100, "pgd-native") - 0.3, attack
    assert t100["cw-l2-native"]["metrics"]["success_rate"] >= 0.95
    rows = masking["threat_models"]["rows"]
    robust = {d: rows[f"model=cnn/defense={d}"][0]["tiers"][-1] for d in ("none", "distillation")}
    assert robust["none"]["samples"] == robust["distillation"]["samples"] == 297
    assert abs(robust["distillation"]["robust_accuracy"]
               - robust["none"]["robust_accuracy"]) <= 0.1, robust
    (verdict,) = masking["verdicts"]
    assert verdict["row_id"] == "model=cnn/defense=distillation"
    assert verdict["text"].startswith("apparent robustness is gradient masking")
    assert "gradient-free-beats-gradient" in verdict["cell_flags"]
    # the masking run trained nothing: the quick start's networks, from the cache
    assert all(t["cached"] for r in masking["rows"] for t in r["training"])


def test_second_run_trains_nothing(quickstart):
    _, (first, second), _ = quickstart
    for report, cached in ((first, False), (second, True)):
        records = [t for r in report["rows"] for t in r["training"]]
        # none, (teacher, student) for T = 10 and T = 100, the adversarially trained network
        assert len(records) == 6
        assert all(t["cached"] is cached for t in records), records
    keys = [[t["key"] for r in rep["rows"] for t in r["training"]] for rep in (first, second)]
    assert keys[1] == keys[0]  # the very networks the first run trained
    # the same networks on a 20-sample prefix of the same seeded evaluation subset: each row's
    # clean accuracy is that of its first-run cw-l2-native cell, which ran on those 20 samples
    prefix = {c["row_id"]: c["metrics"]["clean_accuracy"] for c in first["cells"]
              if c["attack_id"] == "cw-l2-native" and c["source_row"] is None}
    assert {r["row_id"]: r["clean_accuracy"] for r in second["rows"]} == prefix
    assert {c["cell_id"]: c["samples"] for c in second["cells"]} == {
        c["cell_id"]: min(c["samples"], 20) for c in first["cells"]
        if not c["attack_id"].startswith("cw-")}
