"""``bench schema``: suites validate against it with a standard JSON-schema validator; a misspelt
parameter, an unknown plugin and a bad sweep do not, as in ``bench validate``."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import jsonschema
import pytest
import yaml

from bench.pluginmanager import load_plugins
from bench.schema import suite_schema
from tests.helpers import DATA, REPO_ROOT, make_plugins

SUITES = [DATA / "tiny.yaml", REPO_ROOT / "suites" / "quickstart.yaml",
          REPO_ROOT / "suites" / "emnist.yaml", REPO_ROOT / "suites" / "standard.yaml"]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    res = subprocess.run([sys.executable, "-m", "bench", "schema"], capture_output=True,
                         text=True, cwd=REPO_ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    schema = json.loads(res.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, suite: dict) -> list[str]:
    return [e.message for e in validator.iter_errors(suite)]


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_the_shipped_suites_validate(validator, path):
    assert errors(validator, yaml.safe_load(path.read_text())) == []


def tiny() -> dict:
    return yaml.safe_load((DATA / "tiny.yaml").read_text())


@pytest.mark.parametrize(("section", "index", "change"), [
    ("attacks", 0, {"params": {"epsilon": 0.1}}),           # misspelt parameter
    ("models", 0, {"params": {"epochs": 1, "epoch": 2}}),   # misspelt beside a good one
    ("attacks", 0, {"name": "fgms"}),                       # unknown plugin
    ("defenses", 0, {"name": "distilation"}),
    ("attacks", 0, {"params": {"eps": []}}),                # an empty sweep gives no cells
    ("attacks", 0, {"params": {"eps": ["0.1"]}}),           # strings are not numbers
    ("attacks", 0, {"lable": "x"}),                         # unknown key beside name
    ("dataset", None, {"params": {"sise": 8}}),
])
def test_mistakes_are_rejected(validator, section, index, change):
    suite = tiny()
    if index is None:
        suite[section].update(change)
    else:
        suite[section][index].update(change)
    assert errors(validator, suite), change


def test_sweeps_and_labels_are_accepted(validator):
    suite = tiny()
    suite["attacks"].append({"name": "bim", "label": "bim-next",
                             "params": {"eps": 0.2, "target": ["next", 3, None]}})
    suite.pop("defenses")  # the default
    assert errors(validator, suite) == []


def test_a_list_typed_parameter_takes_a_list_and_is_swept_by_a_list_of_lists():
    schema = suite_schema(make_plugins())  # the test fgsm has ``layers: list[int]``
    v = jsonschema.Draft202012Validator(schema)
    base = {"name": "s", "dataset": {"name": "digits"}, "models": [{"name": "cnn"}],
            "attacks": [{"name": "fgsm", "params": {"layers": [1, 2]}}]}
    assert errors(v, base) == []
    swept = copy.deepcopy(base)
    swept["attacks"][0]["params"]["layers"] = [[1, 2], [3], []]
    assert errors(v, swept) == []
    bad = copy.deepcopy(base)
    bad["attacks"][0]["params"]["layers"] = [[1, "x"]]
    assert errors(v, bad)


def test_every_registered_plugin_has_one_branch():
    schema = suite_schema(load_plugins([]))
    branches = schema["$defs"]["attack-entry"]["oneOf"]
    names = [b["properties"]["name"]["const"] for b in branches]
    assert names == list(load_plugins([]).registry("attack"))
    fgsm = branches[names.index("fgsm")]["properties"]["params"]
    assert fgsm["additionalProperties"] is False
    eps = fgsm["properties"]["eps"]["anyOf"]
    assert eps[0]["type"] == "number" and eps[1] == {"type": "array", "minItems": 1,
                                                     "items": eps[0]}
