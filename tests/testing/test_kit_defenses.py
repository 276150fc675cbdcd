"""check_defense fails, naming the property, on defenses that break the contract."""

from __future__ import annotations

import itertools

import pytest
from pydantic import Field

from bench.interfaces import Defense, DefenseTraits, Params
from bench.testing import check_defense

_counter = itertools.count()


class SmoothParams(Params):
    temperature: float = Field(2.0, gt=0)


class Smooth(Defense):
    """Trains at T (a real, tiny training defense); subclasses break one rule."""

    name = "smooth"
    Params = SmoothParams

    def apply(self, trainer):
        return trainer.train(trainer.one_hot(trainer.train_data.y), self.params.temperature,
                             {"labels": "hard", "smooth": True})

    def traits(self):
        return DefenseTraits(kind="training", sweep="temperature", sweep_origin=1.0)


class IgnoresItsParameter(Smooth):
    def apply(self, trainer):
        return trainer.train(trainer.one_hot(trainer.train_data.y), 2.0, {"labels": "hard"})


class UnstableRole(Smooth):
    def apply(self, trainer):
        return trainer.train(trainer.one_hot(trainer.train_data.y), 1.0,
                             {"labels": "hard", "call": next(_counter)})


class Softmax(Smooth):
    def apply(self, trainer):
        import keras

        net = trainer.undefended()
        return keras.Sequential([net, keras.layers.Softmax()])


class BadSweep(Smooth):
    def traits(self):
        return DefenseTraits(sweep="T")


def test_a_good_defense_passes():
    report = check_defense(Smooth, {"temperature": 2}, {"temperature": 4})
    assert report.checked == ["traits", "deployed logits", "cache shared",
                              "parameter in the key"]


@pytest.mark.parametrize(("cls", "message"), [
    (IgnoresItsParameter, "check_defense(smooth): parameter in the key: "
     "params {'temperature': 2} and {'temperature': 4} deploy the same cached network"),
    (UnstableRole, "check_defense(smooth): cache shared: applied again with "
     "the same parameters it trained 1 network(s) again"),
    (Softmax, "check_defense(smooth): deployed logits: outputs are "
     "probabilities (rows in [0, 1] summing to 1): deploy the logits, attacks and flags read "
     "them"),
    (BadSweep, "check_defense(smooth): traits: traits().sweep is 'T', not a "
     "parameter of the defense"),
])
def test_a_broken_rule_is_named(cls, message):
    with pytest.raises(AssertionError) as info:
        check_defense(cls, {"temperature": 2}, {"temperature": 4})
    assert str(info.value).startswith(message)
