"""``--limit N`` caps every cell's samples, an attack's own ``samples`` included."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.cli import main
from bench.grid import expand_grid
from bench.run import plan as runner
from bench.suite import validate_suite
from tests.helpers import make_plugins

SUITE = {
    "name": "limit",
    "dataset": {"name": "digits"},
    "models": [{"name": "cnn"}],
    "attacks": [{"name": "fgsm", "params": {"eps": [0.1, 0.3]}},
                {"name": "cw-l2", "samples": 100}],
    "evaluation": {"samples": 297},
}


def samples(evaluation_samples: int, cw_samples: int) -> dict[str, int]:
    data = {**SUITE, "evaluation": {"samples": evaluation_samples},
            "attacks": [SUITE["attacks"][0], {"name": "cw-l2", "samples": cw_samples}]}
    cells = expand_grid(validate_suite(data, "s.yaml"), make_plugins(), "s.yaml")
    return {c.attack.id: c.samples for c in cells}


def test_own_samples_are_capped_by_evaluation_samples():
    assert samples(297, 100) == {"fgsm[eps=0.1]": 297, "fgsm[eps=0.3]": 297, "cw-l2": 100}
    assert samples(40, 100) == {"fgsm[eps=0.1]": 40, "fgsm[eps=0.3]": 40, "cw-l2": 40}
    assert samples(40, 10) == {"fgsm[eps=0.1]": 40, "fgsm[eps=0.3]": 40, "cw-l2": 10}
    assert samples(100, 100)["cw-l2"] == 100


class _Planned(BaseException):
    """Stops `bench run` once the plan exists (not an Exception: main() must not catch it)."""


def test_limit_option_caps_an_attack_with_its_own_samples(tmp_path: Path, monkeypatch):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**SUITE, "attacks": [
        {"name": "fgsm", "params": {"eps": 0.1}},
        {"name": "cw-l2", "samples": 100},
        {"name": "cw-linf", "samples": 10}]}))
    planned = []
    real = runner.plan_suite

    def plan_then_stop(*args, **kwargs):
        planned.append(real(*args, **kwargs))
        raise _Planned

    monkeypatch.setattr(runner, "plan_suite", plan_then_stop)
    monkeypatch.setenv("ARTBENCH_STORE", str(tmp_path / "store.sqlite"))
    with pytest.raises(_Planned):
        main(["run", str(path), "--quiet", "--limit", "40"])
    [plan] = planned
    assert {c.attack.id: c.samples for c in plan.cells} == {
        "fgsm": 40, "cw-l2": 40, "cw-linf": 10}
    assert plan.suite.evaluation.samples == 40
