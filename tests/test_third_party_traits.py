"""A third-party attack that declares its traits gets the sanity flags and the accuracy-vs-eps
figure a built-in gets, on a real tiny run (its budget parameter is called ``epsilon``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from tests.helpers import DATA

ATTACKS = ("attacks=[{name: fgsm, params: {eps: 0.1}},"
           " {name: tp-pgd, params: {epsilon: [0.1, 0.3], step: 0.05}}]")


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tp")
    code = main(["run", str(DATA / "tiny.yaml"), "--quiet", "-p",
                 str(DATA / "plugins" / "third_party_attack.py"), "--set", ATTACKS,
                 "--store", str(tmp / "s.sqlite"), "--cache-dir", str(tmp / "cache")])
    assert code == 0
    return tmp / "s.sqlite"


def test_third_party_attack_gets_flags_like_a_built_in(store_path: Path) -> None:
    from bench.results.model import load_report
    from bench.results.store import Store

    report = load_report(Store(store_path, readonly=True), None)
    flags = {c["attack_id"]: {f.name for f in c.flags}
             for c in report.cells}
    # compared with the single-step FGSM of the same norm, eps and target, as BIM is
    assert "single-step-beats-iterative" in flags["tp-pgd[epsilon=0.1]"]
    # its own eps sweep, found through its declared budget parameters
    assert "success-not-rising" in flags["tp-pgd[epsilon=0.3]"]
    assert "single-step-beats-iterative" not in flags["fgsm"]
    cell = next(c for c in report.cells if c["attack_id"] == "tp-pgd[epsilon=0.3]")
    assert cell["plugins"]["attack"]["traits"]["budget_params"] == ["epsilon", "step"]


def test_third_party_attack_gets_an_eps_figure(store_path: Path) -> None:
    from bench.render.figures import eps_sweeps
    from bench.results.model import load_report
    from bench.results.store import Store

    sweeps = eps_sweeps(load_report(Store(store_path, readonly=True), None))
    assert [(s["family"], s["eps"]) for s in sweeps] == [("tp-pgd", [0.1, 0.3])]
    assert sweeps[0]["uri"].startswith("data:image/svg+xml;base64,")
