"""Short labels of components (``label:`` in a suite): validated, unique, given a sweep suffix,
and stored with every cell; the canonical id stays the key."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import numpy as np
import pytest

from bench.cache import ModelCache
from bench.errors import ConfigError
from bench.grid import expand_grid
from bench.interfaces import Attack, AttackOutput, Dataset, DataSplit, Defense, Model, Params
from bench.progress import RunProgress
from bench.results.store import Store
from bench.run.plan import plan_suite
from bench.suite import validate_suite
from tests.helpers import make_plugins, run_serially


def suite(attacks: list[dict[str, Any]], **over: Any) -> Any:
    data = {"name": "g", "dataset": {"name": "digits"}, "models": [{"name": "cnn"}],
            "defenses": [{"name": "none"}], "attacks": attacks, "evaluation": {"samples": 10},
            **over}
    return validate_suite(data, "s.yaml")


def test_labels_replace_nothing_but_the_display_name():
    cells = expand_grid(suite([
        {"name": "fgsm", "label": "fgsm-small", "params": {"eps": 0.1, "norm": 2}},
        {"name": "fgsm", "params": {"eps": 0.1}},
        {"name": "fgsm", "label": "sweep", "params": {"eps": [0.2, 0.3], "norm": 2}},
    ]), make_plugins(), "s.yaml")
    assert [(c.attack.id, c.attack.label) for c in cells] == [
        ("fgsm[eps=0.1,norm=2]", "fgsm-small"),
        ("fgsm[eps=0.1,norm=inf]", None),
        ("fgsm[eps=0.2,norm=2]", "sweep[eps=0.2]"),  # the entry's own sweep tells them apart
        ("fgsm[eps=0.3,norm=2]", "sweep[eps=0.3]"),
    ]
    assert cells[0].defense.label is None and cells[0].id.endswith("attack=fgsm[eps=0.1,norm=2]")


def test_a_suite_without_labels_dumps_as_before():
    dumped = suite([{"name": "fgsm"}]).model_dump(mode="json")
    assert dumped["attacks"] == [{"name": "fgsm", "params": {}, "samples": None}]
    dumped = suite([{"name": "fgsm", "label": "f"}]).model_dump(mode="json")
    assert dumped["attacks"] == [{"name": "fgsm", "params": {}, "label": "f", "samples": None}]


def test_two_components_with_one_label_are_refused():
    with pytest.raises(ConfigError) as exc:
        expand_grid(suite([{"name": "fgsm", "label": "f", "params": {"eps": 0.1}},
                           {"name": "cw-l2", "label": "f"}]), make_plugins(), "s.yaml")
    assert str(exc.value) == ("s.yaml: attacks[1].label: 'f' labels both 'fgsm' and 'cw-l2'")


@pytest.mark.parametrize(("label", "shown"), [
    ("", "''"), (" a", "' a'"), ("x" * 41, repr("x" * 41)), ("a\nb", "'a\\nb'")])
def test_bad_labels_are_one_line_errors(label, shown):
    with pytest.raises(ConfigError) as exc:
        suite([{"name": "fgsm", "label": label}])
    assert str(exc.value) == (
        "s.yaml: attacks[0].label: a label is 1 to 40 printable characters on one line, "
        f"without leading or trailing spaces, got {shown}")


# ---- stored with every cell, transfer cells included ----------------------------------------

K = 3


class OneHot(Dataset):
    name = "onehot"

    def load(self, split: str) -> DataSplit:
        y = np.tile(np.arange(K), 2)
        return DataSplit(np.eye(K, dtype=np.float32)[y].reshape(len(y), 1, 1, K), y, K,
                         ("a", "b", "c"), split)


class Unused(Model):
    name = "linear"


class ScaleParams(Params):
    scale: float = 5.0


class Fixed(Defense):
    """Deploys a network that reads the label off the image."""

    name = "fixed"
    Params = ScaleParams

    def apply(self, trainer: Any) -> Any:
        import keras

        model = keras.Sequential([keras.Input((1, 1, K)), keras.layers.Flatten(),
                                  keras.layers.Dense(K)])
        model.layers[-1].set_weights([self.params.scale * np.eye(K, dtype=np.float32),
                                      np.zeros(K, np.float32)])
        return model


class Identity(Attack):
    name = "identity"

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        return AttackOutput(x.copy())


def test_labels_are_stored_with_each_cell(tmp_path):
    plugins = make_plugins(dataset=[OneHot], model=[Unused], defense=[Fixed],
                           attack=[Identity])
    raw = {"name": "labels", "dataset": {"name": "onehot"},
           "models": [{"name": "linear", "label": "lin"}],
           "defenses": [{"name": "fixed", "label": "fixed-a"},
                        {"name": "fixed", "params": {"scale": 4.0}}],
           "attacks": [{"name": "identity", "label": "id-untargeted"}],
           "transfer": [{"source": {"defense": "fixed[scale=5]"}}],
           "evaluation": {"samples": 6, "batch_size": 3, "examples": 0}}
    plan = plan_suite(validate_suite(raw, "t.yaml"), "t.yaml", plugins)
    store = Store(tmp_path / "s.sqlite")
    result = run_serially(plan, plugins, store, ModelCache(tmp_path / "cache"),
                          RunProgress(True))
    assert dict(result.counts) == {"ok": 3}
    rows = sqlite3.connect(tmp_path / "s.sqlite").execute(
        "SELECT cell_id, plugins_json FROM cells ORDER BY id").fetchall()
    labels = {cid: {k: p.get("label") for k, p in json.loads(pj).items()} for cid, pj in rows}
    assert labels == {
        "model=linear/defense=fixed[scale=5]/attack=identity":
            {"model": "lin", "defense": "fixed-a", "attack": "id-untargeted"},
        "model=linear/defense=fixed[scale=4]/attack=identity":
            {"model": "lin", "defense": None, "attack": "id-untargeted"},
        # a transfer cell carries its target row's labels and its source's attack label
        "model=linear/defense=fixed[scale=4]/attack=identity/source=linear|fixed[scale=5]":
            {"model": "lin", "defense": None, "attack": "id-untargeted"},
    }
    # the terminal shows the labels: the row's defense, the attack in the legend (with its id)
    from io import StringIO

    from rich.console import Console

    from bench.render.terminal import print_report
    from bench.results.model import load_results

    out = StringIO()
    print_report(load_results(store, None), Console(file=out, width=100))
    text = out.getvalue()
    assert " fixed-a " in text and "  A1  id-untargeted  (identity)\n" in text
    assert "fixed\n" not in text.replace(" ", "")  # the labelled row shows no bare id
