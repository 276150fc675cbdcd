"""Transfer cells through the runner: the examples of the source row, judged against the
*target* row's clean predictions (its own denominators), on two rows whose predictions differ."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.cache import ModelCache
from bench.interfaces import Attack, AttackOutput, Dataset, DataSplit, Defense, Model
from bench.progress import RunProgress
from bench.results.model import load_report
from bench.results.store import Store
from bench.run.plan import plan_suite
from bench.suite import validate_suite
from tests.helpers import make_plugins, run_serially

K = 3
Y_TEST = np.array([0, 1, 2, 0, 1, 2, 1, 2, 1, 2, 0, 1])  # 3 of 12 are class 0


def images(y: np.ndarray) -> np.ndarray:
    """One-hot images: pixel y of a 1x1xK image is 1."""
    return np.eye(K, dtype=np.float32)[y].reshape(len(y), 1, 1, K)


class OneHotData(Dataset):
    name = "onehot"

    def load(self, split: str) -> DataSplit:
        y = Y_TEST if split == "test" else np.tile(np.arange(K), 4)
        return DataSplit(images(y), y, K, ("a", "b", "c"), split)


class Unused(Model):
    name = "linear"


def linear(kernel: np.ndarray, bias: np.ndarray) -> Any:
    import keras

    model = keras.Sequential([keras.Input((1, 1, K)), keras.layers.Flatten(),
                              keras.layers.Dense(K)])
    model.layers[-1].set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


class Perfect(Defense):
    """Deploys a network that reads the label off the image: always right."""

    name = "perfect"

    def apply(self, trainer: Any) -> Any:
        return linear(5 * np.eye(K), np.zeros(K))


class Zero(Defense):
    """Deploys a network that always answers class 0: right on a quarter of the samples."""

    name = "zero"

    def apply(self, trainer: Any) -> Any:
        return linear(np.zeros((K, K)), np.array([5.0, 0.0, 0.0]))


class Identity(Attack):
    """Returns the clean images: every change of a metric comes from the denominators."""

    name = "identity"

    def generate(self, model: Any, x: np.ndarray, y: np.ndarray, targets: np.ndarray | None,
                 clip_values: tuple[float, float], num_classes: int) -> AttackOutput:
        return AttackOutput(x.copy())


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("transfer")
    plugins = make_plugins(dataset=[OneHotData], model=[Unused], defense=[Perfect, Zero],
                           attack=[Identity])
    raw = {"name": "transfer", "dataset": {"name": "onehot"}, "models": [{"name": "linear"}],
           "defenses": [{"name": "perfect"}, {"name": "zero"}],
           "attacks": [{"name": "identity"}, {"name": "identity", "params": {"target": 0}}],
           "transfer": [{"source": {"defense": "*"}}],
           "evaluation": {"samples": 12, "batch_size": 5, "examples": 0}}
    plan = plan_suite(validate_suite(raw, "t.yaml"), "t.yaml", plugins)
    store = Store(tmp / "s.sqlite")
    result = run_serially(plan, plugins, store, ModelCache(tmp / "cache"), RunProgress(True))
    assert dict(result.counts) == {"ok": 8}
    return load_report(store, result.run_id)


PERFECT, ZERO = "model=linear/defense=perfect", "model=linear/defense=zero"


def metrics(report, row: str, attack: str, source: str | None) -> dict[str, Any]:
    cell = report.cell(row, attack, source)
    assert cell is not None and cell["status"] == "ok"
    return cell["metrics"]


def test_transfer_to_a_worse_model_counts_its_own_correct_samples(report):
    assert [r["clean_accuracy"] for r in report.rows] == [1.0, 0.25]
    m = metrics(report, ZERO, "identity[target=none]", PERFECT)
    # the zero model is right on the 3 samples of class 0 only: those are the denominator
    assert (m["clean_accuracy"], m["adv_accuracy"]) == (0.25, 0.25)
    assert (m["success_denominator"], m["success_count"], m["success_rate"]) == (3, 0, 0.0)


def test_transfer_to_a_better_model_counts_its_own_correct_samples(report):
    m = metrics(report, PERFECT, "identity[target=none]", ZERO)
    assert (m["clean_accuracy"], m["adv_accuracy"]) == (1.0, 1.0)
    assert (m["success_denominator"], m["success_count"], m["success_rate"]) == (12, 0, 0.0)


def test_white_box_cells_use_their_own_row(report):
    zero = metrics(report, ZERO, "identity[target=none]", None)
    assert (zero["success_denominator"], zero["success_count"]) == (3, 0)
    perfect = metrics(report, PERFECT, "identity[target=none]", None)
    assert (perfect["success_denominator"], perfect["success_count"]) == (12, 0)


def test_targeted_transfer_counts_predictions_of_the_target_row(report):
    """Target class 0: the zero model 'predicts the target' on all 9 samples of other classes,
    the perfect one on none: each transfer cell reports its own model's predictions."""
    on_zero = metrics(report, ZERO, "identity[target=0]", PERFECT)
    assert (on_zero["success_denominator"], on_zero["success_count"]) == (9, 9)
    assert on_zero["predicted_as_target"] == 12
    on_perfect = metrics(report, PERFECT, "identity[target=0]", ZERO)
    assert (on_perfect["success_denominator"], on_perfect["success_count"]) == (9, 0)
    assert on_perfect["predicted_as_target"] == 3
