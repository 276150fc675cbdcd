from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError, field_validator

from bench.errors import ConfigError
from bench.interfaces import Params
from bench.suite import describe_validation_error, load_suite

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
    assert suite.defenses is None  # the registered kind-'none' defense, found when planned
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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "seed: 18446744073709551616\n",
         "s.yaml: seed: Input should be less than 4294967296, got 18446744073709551616"),
        (GOOD + "evaluation: {seed: -1}\n",
         "s.yaml: evaluation.seed: Input should be greater than or equal to 0, got -1"),
        (GOOD + "evaluation: {samples: true}\n",
         "s.yaml: evaluation.samples: Input should be a valid integer, got True"),
        (GOOD + "evaluation: {samples: '10'}\n",
         "s.yaml: evaluation.samples: Input should be a valid integer, got '10'"),
        (GOOD + "evaluation: {max_cells: 0}\n",
         "s.yaml: evaluation.max_cells: Input should be greater than 0, got 0"),
        (GOOD + "exclude: [{}]\n",
         "s.yaml: exclude[0]: Dictionary should have at least 1 item after validation, not 0, "
         "got {}"),
        (GOOD + "name: u\n", "s.yaml: line 6, column 1: invalid YAML: duplicate key 'name' "
         "(first at line 2, column 1)"),
        (GOOD.replace("{name: digits}", "{name: digits, train: 'train[5:2x]'}"),
         "s.yaml: dataset.train: invalid split 'train[5:2x]': expected a form such as 'train', "
         "'test[:85%]', 'test[85%:]', 'train[:20000]', 'train[1000:2000]', 'test[-10%:]'"),
        ("a: &x [*x]\n", "s.yaml: line 1, column 8: invalid YAML: alias *x is used inside its "
         "own anchor"),
        ("a: " + "[" * 70 + "]" * 70 + "\n",
         "s.yaml: line 1, column 67: invalid YAML: nested more than 64 levels deep"),
        ("d: 2020-13-45\n", "s.yaml: line 1, column 4: invalid YAML: cannot read '2020-13-45' "
         "as !!timestamp: month must be in 1..12"),
        ("a: b\x00\n", "s.yaml: line 1, column 5: invalid YAML: unacceptable character #x0000: "
         "special characters are not allowed"),
    ],
)
def test_strict_and_bounded_suites(tmp_path, text, message):
    with pytest.raises(ConfigError) as exc:
        load_suite(write(tmp_path, text))
    assert str(exc.value) == str(tmp_path / message)


def test_billion_laughs_is_refused_quickly(tmp_path):
    lol = "name: &a [lol]\n" + "".join(
        f"x{i}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9))
    with pytest.raises(ConfigError) as exc:
        load_suite(write(tmp_path, lol))
    assert str(exc.value) == str(tmp_path / (
        "s.yaml: line 6, column 37: invalid YAML: more than 100000 values once aliases are "
        "expanded; refusing to expand it"))


def test_merge_keys_still_work_and_aliases_are_copies(tmp_path):
    text = GOOD.replace("models: [{name: cnn, params: {epochs: 1}}]",
                        "common: &p {epochs: 1}\nmodels: [{name: cnn, params: *p}, "
                        "{name: cnn, params: {<<: *p, epochs: 2}}]").replace("common:", "x-c:")
    with pytest.raises(ConfigError, match="x-c: unknown field"):
        load_suite(write(tmp_path, text))
    text = text.replace("x-c: &p {epochs: 1}\n", "").replace("params: *p", "params: &p "
                                                              "{epochs: 1}")
    suite, raw = load_suite(write(tmp_path, text), ["models[0].params.epochs=3"])
    assert [m.params for m in suite.models] == [{"epochs": 3}, {"epochs": 2}]


def test_not_utf8_and_not_regular_and_too_large(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(b"name: t\ndescription: caf\xe9\n")
    with pytest.raises(ConfigError) as exc:
        load_suite(p)
    assert str(exc.value) == (f"{p}: not UTF-8 text: byte 0xe9 at offset 24 (line 2) cannot be "
                              "decoded")
    with pytest.raises(ConfigError) as exc:
        load_suite("/dev/zero")
    assert str(exc.value) == "/dev/zero: not a regular file"
    with pytest.raises(ConfigError) as exc:
        load_suite(tmp_path)
    assert str(exc.value) == f"{tmp_path}: is a directory, not a suite file"
    p.write_bytes(b"#" * (1 << 20) + b"\n")
    with pytest.raises(ConfigError) as exc:
        load_suite(p)
    assert str(exc.value) == f"{p}: 1048577 bytes, more than a suite file may hold (1 MiB)"


class _QuotingParams(Params):
    """A plugin's parameters whose validators write their own messages."""

    url: str = "https://example.org"
    eps: float = 0.1
    step: int = 1

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"must be an https URL, got {value!r}")
        return value

    @field_validator("eps")
    @classmethod
    def _small(cls, value: float) -> float:
        if value > 1:
            raise ValueError(f"eps {value} is larger than the data range")
        return value

    @field_validator("step")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd (2 divides it)")
        return value


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"url": "ftp://x"}, "params.url: Value error, must be an https URL, got 'ftp://x'"),
        ({"eps": 2.5}, "params.eps: Value error, eps 2.5 is larger than the data range"),
        # "2" in "(2 divides it)" is not the value 12: the host still says it
        ({"step": 12}, "params.step: Value error, must be odd (2 divides it), got 12"),
        # pydantic's own messages never quote the value, even when it equals the bound
        ({"eps": "x"}, "params.eps: Input should be a valid number, got 'x'"),
    ],
)
def test_got_value_is_not_repeated(params, message):
    with pytest.raises(ValidationError) as exc:
        _QuotingParams.model_validate(params)
    assert describe_validation_error(exc.value, ("params",)) == message
