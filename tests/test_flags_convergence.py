"""The convergence check: a suite's ``convergence`` option adds each cell's doubled-work twin,
and the ``not-converged`` flag compares the two (Carlini et al. 2019)."""

from __future__ import annotations

import pytest

from bench.errors import ConfigError
from bench.grid import expand_grid
from bench.pluginmanager import load_plugins
from bench.results.model import RunReport
from bench.results.stats import cell_flags
from bench.suite import validate_suite
from bench.traits import AttackTraits

ROW = "model=cnn/defense=none"
PGD = {"eps": 0.1, "step_size": None, "loss": "ce", "target": None}


def pgd(steps: int, restarts: int, sr: float, *, samples: int = 100, source: str | None = None,
        **changes: object) -> dict:
    params = {**PGD, "steps": steps, "restarts": restarts, **changes}
    traits = AttackTraits("inf", params["eps"], loss="ce", budget_params=("eps", "step_size"),
                          effort_params=("steps", "restarts"))
    attack_id = f"pgd-native[{','.join(f'{k}={v}' for k, v in changes.items())}" \
                f"steps={steps},restarts={restarts}]"
    return {"id": attack_id + (source or ""), "row_id": ROW, "attack_id": attack_id,
            "attack_name": "pgd-native", "status": "ok", "source_row": source, "info": {},
            "samples": samples, "params": {"attack": params},
            "plugins": {"attack": {"name": "pgd-native", "traits": traits.to_dict()}},
            "metrics": {"success_rate": sr, "success_denominator": 90}}


def convergence(cells: list[dict], which: int = 0) -> tuple[str, str] | None:
    found = {n: (s, e) for n, s, e in cell_flags(RunReport({}, [], cells), cells[which])}
    return found.get("not-converged")


@pytest.mark.parametrize(("doubled", "status"), [(0.525, "ok"), (0.54, "warn"), (0.3, "ok")])
def test_not_converged_fires_above_three_points(doubled, status):
    flag = convergence([pgd(20, 1, 0.5), pgd(40, 1, doubled)])
    assert flag == (status, ("pgd-native[steps=40,restarts=1] (steps 20 -> 40) "
                            f"{100 * doubled:.1f}% vs 50.0%"))


def test_the_twin_is_the_same_attack_on_the_same_samples_with_at_least_double_work():
    base = pgd(20, 2, 0.5)
    for other in (pgd(30, 2, 0.9),                 # not doubled
                  pgd(40, 1, 0.9),                 # more steps but fewer restarts
                  pgd(40, 2, 0.9, samples=50),     # other samples
                  pgd(40, 2, 0.9, eps=0.3),        # other budget
                  pgd(40, 2, 0.9, loss="margin"),  # other loss
                  pgd(40, 2, 0.9, source="model=cnn/defense=x")):  # a transfer cell
        assert convergence([base, other]) is None, other["attack_id"]
    assert convergence([base, pgd(20, 4, 0.9)])[0] == "warn"  # restarts doubled
    # the closest twin decides: 40 steps (quiet), not 160 (which would fire)
    assert convergence([base, pgd(160, 2, 0.9), pgd(40, 2, 0.51)]) == (
        "ok", "pgd-native[steps=40,restarts=2] (steps 20 -> 40) 51.0% vs 50.0%")
    # the twin itself has no bigger twin: no flag on it
    assert convergence([pgd(40, 2, 0.9), base]) is None


def test_a_count_of_zero_stays_zero_and_doubles_nothing():
    # ART's PGD: num_random_init 0 (no random start) beside max_iter; 20 -> 40 steps with no
    # restarts is a twin, the same steps with no restarts is not
    assert convergence([pgd(20, 0, 0.5), pgd(40, 0, 0.6)]) == (
        "warn", "pgd-native[steps=40,restarts=0] (steps 20 -> 40) 60.0% vs 50.0%")
    assert convergence([pgd(20, 0, 0.5), pgd(20, 0, 0.6, eps=0.1)]) is None
    assert convergence([pgd(20, 0, 0.5), pgd(20, 1, 0.6)]) is None  # 0 -> 1 is not doubling


def test_attacks_without_effort_parameters_get_no_flag():
    cells = [pgd(20, 1, 0.5), pgd(40, 1, 0.9)]
    for c in cells:
        c["plugins"]["attack"]["traits"]["effort_params"] = []
    assert convergence(cells) is None


SUITE = {"name": "c", "dataset": {"name": "digits"}, "models": [{"name": "cnn"}],
         "defenses": [{"name": "none"}]}


@pytest.fixture(scope="module")
def builtin_plugins():
    return load_plugins([])


def attack_ids(plugins, *attacks: dict) -> list[str]:
    suite = validate_suite({**SUITE, "attacks": list(attacks)}, "s.yaml")
    return [c.attack.id for c in expand_grid(suite, plugins, "s.yaml")]


def test_convergence_adds_the_doubled_twin_of_every_cell(builtin_plugins):
    assert attack_ids(builtin_plugins, {"name": "pgd-native", "params": {"eps": [0.1, 0.3],
                                                                         "steps": 10},
                                         "convergence": True},
                      {"name": "square", "convergence": "nb_restarts", "label": "sq"},
                      {"name": "ifgsm"}) == [
        "pgd-native[eps=0.1,steps=10]", "pgd-native[eps=0.1,steps=20]",
        "pgd-native[eps=0.3,steps=10]", "pgd-native[eps=0.3,steps=20]",
        "square[nb_restarts=1]", "square[nb_restarts=2]", "ifgsm"]


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "fgsm", "convergence": True},
     r"attacks\[0\]\.convergence: fgsm declares no iteration or restart parameter to double"),
    ({"name": "pgd-native", "convergence": "eps"},
     r"attacks\[0\]\.convergence: 'eps' is not one of pgd-native's iteration or restart "
     r"parameters \(steps, restarts\)"),
    ({"name": "pgd", "convergence": "num_random_init"},
     r"attacks\[0\]\.convergence: pgd's num_random_init is 0: nothing to double"),
    ({"name": "pgd-native", "params": {"steps": 20}, "convergence": True},
     r"attacks: 'pgd-native\[steps=40\]' is declared twice"),
])
def test_convergence_errors_name_the_entry(builtin_plugins, entry, message):
    others = [{"name": "pgd-native", "params": {"steps": 40}}] if "steps" in entry.get(
        "params", {}) else []
    with pytest.raises(ConfigError, match=message):
        attack_ids(builtin_plugins, entry, *others)


def test_suites_without_the_option_dump_as_before():
    suite = validate_suite({**SUITE, "attacks": [{"name": "fgsm"}]}, "s.yaml")
    assert "convergence" not in suite.model_dump()["attacks"][0]
    asked = validate_suite({**SUITE, "attacks": [{"name": "bim", "convergence": True}]}, "s.yaml")
    assert asked.model_dump()["attacks"][0]["convergence"] is True


CONVERGENCE_SUITE = """
name: convergence
dataset: {name: digits, train: train, test: test}
models: [{name: cnn, params: {epochs: 5, optimizer: adam, learning_rate: 0.002}}]
defenses: [{name: none}]
attacks:
  # steps of eps / 10: two cannot reach the ball's edge, fifty can (measured success: 9 %
  # after 2, 45 % after 5, 98 % after 10, 100 % after 50 and 100)
  - name: ifgsm
    params: {eps: 0.2, iterations: [2, 50], alpha: 0.02}
    convergence: true
evaluation: {samples: 60, batch_size: 60, seed: 0}
"""


def test_not_converged_on_a_real_model(tmp_path):
    """On a trained network: I-FGSM with two steps of 0.02 has not converged (doubling them
    raises success by more than 3 points), with fifty it has; the stored flags say so."""
    from bench.testing import run_suite

    results = run_suite(CONVERGENCE_SUITE, tmp_path)
    cells = {c["attack_id"]: c for c in results.cells}
    assert list(cells) == ["ifgsm[iterations=2]", "ifgsm[iterations=4]",
                           "ifgsm[iterations=50]", "ifgsm[iterations=100]"]
    sr = {k: c["metrics"]["success_rate"] for k, c in cells.items()}
    flags = {k: {f["name"]: f for f in c.flags} for k, c in cells.items()}
    two = flags["ifgsm[iterations=2]"]["not-converged"]
    assert two["status"] == "warn" and sr["ifgsm[iterations=4]"] > sr["ifgsm[iterations=2]"] + 0.03
    assert two["evidence"].startswith("ifgsm[iterations=4] (iterations 2 -> 4) ")
    fifty = flags["ifgsm[iterations=50]"]["not-converged"]
    assert fifty["status"] == "ok", (sr, fifty)
    # the closest cell with at least twice the work is the twin: 50 for 4, none for 100
    assert flags["ifgsm[iterations=4]"]["not-converged"]["evidence"].startswith(
        "ifgsm[iterations=50] (iterations 4 -> 50) ")
    assert "not-converged" not in flags["ifgsm[iterations=100]"]
