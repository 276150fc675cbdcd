"""run_suite runs a suite as `bench run` does, in isolation; the hook recorder sees its hooks."""

from __future__ import annotations

import pytest

from bench.testing import run_suite

SUITE = """
name: kit
dataset: {name: digits, train: "train[:300]", test: test}
models: [{name: cnn, params: {epochs: 1, optimizer: adam}}]
defenses: [{name: none}]
attacks: [{name: fgsm, params: {eps: [0.1, 0.3]}}]
evaluation: {samples: 10, batch_size: 10, seed: 0}
"""


def test_run_suite_with_the_hook_recorder(tmp_path, bench_hook_recorder):
    results = run_suite(SUITE, tmp_path)
    cells = [c["cell_id"] for c in results.cells]
    assert cells == ["model=cnn/defense=none/attack=fgsm[eps=0.1]",
                     "model=cnn/defense=none/attack=fgsm[eps=0.3]"]
    assert [c["status"] for c in results.cells] == ["ok", "ok"]
    assert (tmp_path / "bench.sqlite").is_file() and any((tmp_path / "cache").rglob("*.keras"))
    assert bench_hook_recorder.names() == ["bench_run_start", "bench_cell_finished",
                                           "bench_cell_finished", "bench_run_end"]
    (start,) = bench_hook_recorder.of("bench_run_start")
    assert start["cell_ids"] == cells and start["suite"]["name"] == "kit"
    finished = bench_hook_recorder.of("bench_cell_finished")
    assert [f["cell_id"] for f in finished] == cells
    assert finished[1]["metrics"]["success_rate"] == results.cells[1]["metrics"]["success_rate"]
    # a second run in the same tmp_path: its own run, networks from the shared cache
    again = run_suite(SUITE, tmp_path, "--set", "evaluation.samples=5")
    assert again.run["id"] == 2 and all(r["cached"] for r in again.rows[0]["training"])


def test_errors_and_failed_cells_raise(tmp_path):
    with pytest.raises(AssertionError, match=r"exited with 4:\nerror: .*suite-1\.yaml: "
                       r"attacks\[0\]\.name: Unknown attack 'fgms'"):
        run_suite(SUITE.replace("fgsm", "fgms"), tmp_path)
    broken = tmp_path / "broken.py"
    broken.write_text(
        "from bench import hookimpl\nfrom bench.interfaces import Attack\n\n"
        "class Broken(Attack):\n    name = 'broken'\n\n"
        "    def generate(self, *args):\n        raise RuntimeError('no')\n\n"
        "@hookimpl\ndef bench_register_attacks():\n    return [Broken]\n")
    suite = SUITE.replace("{name: fgsm, params: {eps: [0.1, 0.3]}}", "{name: broken}")
    with pytest.raises(AssertionError, match=r"cells failed in suite-2\.yaml .*\n  model=cnn/"
                       r"defense=none/attack=broken: RuntimeError: no"):
        run_suite(suite, tmp_path, "-p", str(broken))
    results = run_suite(suite, tmp_path, "-p", str(broken), allow_failures=True)
    assert [c["status"] for c in results.cells] == ["failed"]
