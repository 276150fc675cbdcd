"""Every built-in attack, defense and model works on the read-only arrays the host hands out
(issue 7: plugins get read-only views, so that none can change another cell's data)."""

from __future__ import annotations

import numpy as np
import pytest
from bench_builtin.attacks.art import ATTACKS as ART_ATTACKS
from bench_builtin.attacks.art_autoattack import AutoAttack
from bench_builtin.attacks.art_bounded import ATTACKS as BOUNDED_ATTACKS
from bench_builtin.attacks.art_minimum_norm import ATTACKS as MIN_NORM_ATTACKS
from bench_builtin.attacks.native import ATTACKS as NATIVE_ATTACKS
from bench_builtin.attacks.noise import RandomNoise
from bench_builtin.defenses.adversarial_training import AdversarialTraining
from bench_builtin.defenses.distillation import Distillation
from bench_builtin.defenses.none import NoDefense
from bench_builtin.models.cnn import Cnn

from bench.cache import ModelCache
from bench.interfaces import DataSplit
from bench.progress import RunProgress
from bench.training import HostTrainer

FAST = {
    "fgsm": {"eps": 0.1}, "bim": {"eps": 0.1, "max_iter": 2},
    "cw-l2": {"max_iter": 2, "binary_search_steps": 1},
    "cw-linf": {"max_iter": 2},
    "pgd": {"eps": 0.1, "max_iter": 2, "num_random_init": 1},
    "apgd": {"eps": 0.1, "max_iter": 2, "nb_random_init": 1, "loss": "dlr"},
    "autoattack": {"eps": 0.1, "max_iter": 2, "n_target_classes": 1, "square_max_iter": 2},
    "square": {"eps": 0.1, "max_iter": 2},
    "hop-skip-jump": {"max_iter": 1, "max_eval": 5, "init_eval": 2, "init_size": 10},
    "deepfool": {"max_iter": 2, "nb_grads": 5},
    "ifgsm": {"eps": 0.1, "iterations": 2},
    "pgd-native": {"eps": 0.1, "steps": 2, "restarts": 2},
    "random-noise": {"eps": 0.1, "restarts": 2},
    "cw-l2-native": {"iterations": 3, "binary_search_steps": 1},
    "cw-linf-native": {"iterations": 3},
    "cw-l0-native": {"iterations": 3, "largest_const": 0.01},
}


def readonly(a: np.ndarray) -> np.ndarray:
    owner = a.copy()
    owner.flags.writeable = False
    return owner.view()


@pytest.fixture(scope="module")
def small_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(5)])


@pytest.mark.parametrize("cls", [*ART_ATTACKS, *BOUNDED_ATTACKS, AutoAttack, *MIN_NORM_ATTACKS,
                                 *NATIVE_ATTACKS, RandomNoise], ids=lambda c: c.name)
@pytest.mark.parametrize("targeted", [False, True], ids=["untargeted", "targeted"])
def test_attack_works_on_read_only_inputs(small_model, cls, targeted):
    rng = np.random.default_rng(0)
    x = readonly(rng.uniform(0, 1, (4, 8, 8, 1)).astype(np.float32))
    y = readonly(np.array([0, 1, 2, 3]))
    targets = readonly(np.array([1, 2, 3, 4])) if targeted else None
    before = x.copy()
    out = cls(cls.Params(**FAST[cls.name])).generate(small_model, x, y, targets, (0.0, 1.0), 5)
    assert out.x_adv.shape == x.shape
    assert np.array_equal(x, before)


@pytest.mark.parametrize("defense", [
    NoDefense(), Distillation(Distillation.Params(temperature=10)),
    AdversarialTraining(AdversarialTraining.Params(eps=0.1, steps=2))],
    ids=["none", "distillation", "adversarial-training"])
def test_model_and_defenses_train_on_read_only_data(tmp_path, defense):
    rng = np.random.default_rng(0)
    split = DataSplit(readonly(rng.uniform(0, 1, (32, 16, 16, 1)).astype(np.float32)),
                      readonly(rng.integers(0, 3, 32)), 3, ("a", "b", "c"), "tiny")
    cnn = Cnn(Cnn.Params(epochs=1, batch_size=16, optimizer="adam"))
    trainer = HostTrainer(cnn, "1.0.0", split, ModelCache(tmp_path), 0, RunProgress(True))
    net = defense.apply(trainer)
    assert trainer.predict_logits(net, split.x).shape == (32, 3)
