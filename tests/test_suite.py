from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.suite import load_suite

GOOD = """
name: t
dataset: {name: digits}
models: [{name: cnn, params: {epochs: 1}}]
attacks: [{name: fgsm, params: {eps: [0.1, 0.2]}}]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_good_suite_defaults(tmp_path):
    suite, raw = load_suite(write(tmp_path, GOOD))
    assert suite.defenses[0].name == "none"
    assert suite.evaluation.samples == 1000 and suite.evaluation.seed == 0
    assert raw["attacks"][0]["params"]["eps"] == [0.1, 0.2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "epsilon: 3\n", "s.yaml: epsilon: unknown field"),
        (GOOD.replace("name: t\n", ""), "s.yaml: name: field required"),
        (GOOD + "evaluation: {samples: 0}\n",
         "s.yaml: evaluation.samples: Input should be greater than 0, got 0"),
        (GOOD.replace("attacks: [{name: fgsm,", "attacks: [{nam: fgsm,"),
         "s.yaml: attacks[0].name: field required (and 1 more error)"),
        ("- a\n- b\n", "s.yaml: a suite must be a mapping, got list"),
        ("name: [unclosed\n", "s.yaml: line 2, column 1: invalid YAML: expected ',' or ']', "
         "but got '<stream end>'"),
    ],
)
def test_invalid_suites_one_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as exc:
        load_suite(write(tmp_path, text))
    assert str(exc.value) == str(tmp_path / message)
    assert "\n" not in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_suite(tmp_path / "nope.yaml")
    assert str(exc.value) == f"{tmp_path / 'nope.yaml'}: no such suite file"


def test_overrides_are_validated_like_the_file(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_suite(write(tmp_path, GOOD), ["evaluation.batch_size=-1"])
    assert str(exc.value).endswith(
        "s.yaml: evaluation.batch_size: Input should be greater than 0, got -1")


def test_yaml_is_loaded_safely(tmp_path):
    text = GOOD.replace("name: t", "name: !!python/object/apply:os.system ['echo hi']")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_suite(write(tmp_path, text))
