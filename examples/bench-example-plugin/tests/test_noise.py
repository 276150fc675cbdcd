"""The example plugin's tests, written with artbench's testing kit only (bench.testing, a pytest
plugin installed with artbench: its fixtures need no conftest.py)."""

from __future__ import annotations

from bench_example import UniformNoise

from bench.testing import check_attack

SUITE = """
name: noise-smoke
dataset: {name: digits, train: "train[:300]", test: test}
models: [{name: cnn, params: {epochs: 1, optimizer: adam}}]
defenses: [{name: none}]
attacks: [{name: noise, params: {eps: [0.1, 0.3]}}]
evaluation: {samples: 20, batch_size: 10, seed: 0}
"""


def test_noise_keeps_the_attack_contract(bench_tiny_model):
    # one seeded draw per generate() call, so a sample's noise depends on its place in the
    # evaluation batch: documented, hence batch_dependent=True
    report = check_attack(UniformNoise, bench_tiny_model, params={"eps": 0.1},
                          batch_dependent=True)
    assert "within the declared bound" in report.checked
    assert "seed determinism" in report.checked


def test_noise_runs_in_a_suite(bench_run_suite, bench_hook_recorder):
    results = bench_run_suite(SUITE)
    assert [c["cell_id"] for c in results.cells] == [
        "model=cnn/defense=none/attack=noise[eps=0.1]",
        "model=cnn/defense=none/attack=noise[eps=0.3]"]
    weak, strong = (c["metrics"]["success_rate"] for c in results.cells)
    assert 0 <= weak <= strong <= 1  # noise is a baseline: more of it fools more digits
    assert [c["cell_id"] for c in bench_hook_recorder.of("bench_cell_finished")] == [
        c["cell_id"] for c in results.cells]
