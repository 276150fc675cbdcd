"""Metric declarations: the built-ins in one place, a plugin's declared metric computed for
every cell, shown by reports in its format and gating ``bench compare`` with its direction."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.cli import main
from bench.errors import PluginError
from bench.numerics import softmax
from bench.pluginmanager import load_plugins
from bench.results.metrics import METRICS, declared, fmt_value, remember, use_plugin_metrics
from bench.testing import run_suite
from tests.helpers import DATA

PLUGIN = str(DATA / "plugins" / "metric_plugin.py")
SUITE = """
name: metrics
dataset: {name: digits, train: "train[:300]", test: test}
models: [{name: cnn, params: {epochs: 2, optimizer: adam, learning_rate: 0.003}}]
defenses: [{name: none}]
attacks: [{name: fgsm, params: {eps: 0.02}}]
evaluation: {samples: 40, batch_size: 20, seed: 0}
"""


def test_builtin_declarations_are_complete_and_consistent():
    for name in ("success_rate", "adv_accuracy", "clean_accuracy", "balanced_accuracy",
                 "robust_accuracy", "adv_confidence_mean"):
        assert METRICS[name].format == "percent" and METRICS[name].rate
    assert METRICS["generate"].format == "seconds" and METRICS["generate"].direction == "lower"
    assert METRICS["clean_accuracy"].direction == "higher"
    assert METRICS["l2"].scope == "sample" and METRICS["train_seconds"].scope == "row"
    assert fmt_value(0.1234, "success_rate") == "12.3%" and fmt_value(0.1234, "l2_mean") == \
        "0.123"


def test_one_softmax_with_temperature():
    z = np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]], np.float32)
    assert np.allclose(softmax(z), [[0.25, 0.75], [0.5, 0.5]])
    assert np.allclose(softmax(np.array([[0.0, 2 * np.log(3.0)]]), 2.0), [[0.25, 0.75]])


@pytest.fixture(scope="module", autouse=True)
def _no_plugin_metrics_afterwards():
    yield
    use_plugin_metrics([])  # declarations are process-wide: leave none to other tests


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("metrics")
    a = run_suite(SUITE, tmp, "-p", PLUGIN)
    b = run_suite(SUITE.replace("eps: 0.02", "eps: 0.3"), tmp, "-p", PLUGIN)
    return tmp, a, b


def test_a_plugin_metric_is_computed_and_reported(runs, capsys):
    tmp, a, b = runs
    (ca,), (cb,) = a.cells, b.cells
    assert 0 <= cb.metrics["kept_rate"] < ca.metrics["kept_rate"] <= 1
    assert ca.metrics["adv_margin"] > 0
    assert declared("kept_rate").direction == "higher"
    assert main(["report", "1", "--store", str(tmp / "bench.sqlite"), "-p", PLUGIN, "-f",
                 "markdown", "--metric", "kept_rate"]) == 0
    md = capsys.readouterr().out
    assert "## kept_rate by model x defense" in md
    row = next(line for line in md.splitlines() if line.startswith("| cnn | none | "))
    assert row.endswith(f" | {100 * ca.metrics['kept_rate']:.1f}% |")  # declared: percent


def test_a_plugin_metric_gates_compare_with_its_direction(runs, capsys):
    tmp, a, b = runs
    ka, kb = a.cells[0].metrics["kept_rate"], b.cells[0].metrics["kept_rate"]
    store = str(tmp / "bench.sqlite")
    code = main(["compare", "1", "2", "--store", store, "-p", PLUGIN, "-f", "json",
                 "--fail-on", "kept_rate:-1%", "--metric", "kept_rate"])
    err = capsys.readouterr().err
    assert code == 1
    points = 100 * (kb - ka)
    assert (f"FAIL kept_rate:-1% crossed by model=cnn/defense=none/attack=fgsm: "
            f"{100 * ka:.1f}% -> {100 * kb:.1f}% ({points:+.1f} points, worse)") in err
    # the other way round it is better, and a rise is not gated by -1%
    assert main(["compare", "2", "1", "--store", store, "-p", PLUGIN, "-f", "json",
                 "--fail-on", "kept_rate:-1%"]) == 0
    assert json.loads(capsys.readouterr().out)["failed"] == []


def test_a_metric_declared_twice_names_both(tmp_path):
    dup = tmp_path / "dup.py"
    dup.write_text("from bench import hookimpl\nfrom bench.results.metrics import Metric\n\n"
                   "@hookimpl\ndef bench_register_metrics():\n"
                   "    return [Metric('success_rate', 'mine')]\n")
    with pytest.raises(PluginError) as err:
        load_plugins([str(dup)])
    assert str(err.value) == ("Duplicate metric 'success_rate': declared by both artbench "
                              "(built-in) and artbench_local_dup (-p " + str(dup) + " local)")


def test_a_run_keeps_its_plugins_metric_declarations(runs, capsys):
    """Without -p, the declarations stored with the runs format and gate the plugin metric."""
    tmp, a, b = runs
    ka, kb = a.cells[0].metrics["kept_rate"], b.cells[0].metrics["kept_rate"]
    store = str(tmp / "bench.sqlite")
    assert main(["report", "1", "--store", store, "-f", "markdown", "--metric",
                 "kept_rate"]) == 0
    assert declared("kept_rate").compute is None  # the stored declaration, not the plugin's
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("| cnn | none | "))
    assert row.endswith(f" | {100 * ka:.1f}% |")
    assert main(["compare", "1", "2", "--store", store, "-f", "json",
                 "--fail-on", "kept_rate:-1%"]) == 1
    assert (f"{100 * ka:.1f}% -> {100 * kb:.1f}% ({100 * (kb - ka):+.1f} points, worse)"
            in capsys.readouterr().err)
    # a store written by hand with a malformed declaration: a plain number, no traceback
    use_plugin_metrics([])
    remember([{"name": "odd", "bogus": 1}, {"description": "no name"}, {"name": 3,
                                                                       "description": "x"}])
    assert declared("odd") is None and declared(3) is None
