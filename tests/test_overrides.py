from __future__ import annotations

import pytest

from bench.errors import ConfigError
from bench.overrides import apply_overrides, parse_path

SUITE = {
    "evaluation": {"samples": 100},
    "models": [{"name": "cnn", "params": {"epochs": 50}}],
    "attacks": [{"name": "fgsm", "params": {"eps": 0.1}}, {"name": "cw-l2"},
                {"name": "fgsm", "params": {"eps": 0.2}}],
}


def test_parse_path():
    assert parse_path("models[0].params.epochs") == ["models", 0, "params", "epochs"]
    assert parse_path("attacks[cw-l2].samples") == ["attacks", "name=cw-l2", "samples"]


def test_overrides_set_values_parsed_as_yaml_without_touching_input():
    out = apply_overrides(SUITE, ["models[0].params.epochs=2", "evaluation.samples=10",
                                  "attacks[fgsm].params.eps=[0.1, 0.3]",
                                  "attacks[cw-l2].samples=5"])
    assert out["models"][0]["params"]["epochs"] == 2
    assert out["evaluation"]["samples"] == 10
    assert out["attacks"][0]["params"]["eps"] == [0.1, 0.3]
    assert out["attacks"][2]["params"]["eps"] == [0.1, 0.3]
    assert out["attacks"][1]["samples"] == 5
    assert SUITE["models"][0]["params"]["epochs"] == 50


def test_override_creates_missing_mapping_levels():
    out = apply_overrides({"dataset": {"name": "emnist"}}, ["dataset.params.variant=bymerge"])
    assert out["dataset"]["params"] == {"variant": "bymerge"}


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("models[3].params.epochs=1",
         "--set models[3].params.epochs: no entry [3] (the list has 1)"),
        ("attacks[fgms].samples=1",
         "--set attacks[fgms].samples: no entry named 'fgms' (entries: fgsm, cw-l2, fgsm)"),
        ("evaluation", "--set evaluation: expected path=value"),
        ("evaluation.samples.x=1", "--set evaluation.samples.x: not a mapping"),
    ],
)
def test_override_errors(assignment, message):
    with pytest.raises(ConfigError) as exc:
        apply_overrides(SUITE, [assignment])
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("evaluation.samples=[1,", "--set evaluation.samples: line 1, column 4: invalid YAML: "
         "expected the node content, but found '<stream end>'"),
        ("evaluation.samples={a: 1, a: 2}", "--set evaluation.samples: line 1, column 8: "
         "invalid YAML: duplicate key 'a' (first at line 1, column 2)"),
        ("evaluation.samples=" + "x" * 70000,
         "--set evaluation.samples: value of 70000 characters, more than 65536"),
        ("models[²].x=1", "--set models[²].x: no entry named '²' (entries: cnn)"),
        ("models[9]\n.x=1", "--set 'models[9]\\n.x': no entry [9] (the list has 1)"),
        (".a=1", "--set .a: malformed field path"),
        ("=1", "--set: empty field path"),
    ],
)
def test_override_values_are_bounded_yaml(assignment, message):
    with pytest.raises(ConfigError) as exc:
        apply_overrides(SUITE, [assignment])
    assert str(exc.value) == message


def test_override_on_an_alias_changes_one_place():
    shared = {"epochs": 5}
    data = {"models": [{"name": "a", "params": shared}, {"name": "b", "params": shared}]}
    out = apply_overrides(data, ["models[0].params.epochs=1"])
    assert [m["params"]["epochs"] for m in out["models"]] == [1, 5]
