"""Property-based tests of the suite loader: any text or bytes gives a suite or one clean line.

The default run tries a few hundred examples per property; ``pytest -m slow`` many more.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from bench.errors import BenchError
from bench.grid import expand_grid, transfer_plan
from bench.pluginmanager import load_plugins
from bench.run.plan import plan_suite
from bench.suite import load_suite, read_suite_file, validate_suite
from bench.yamlsafe import load_yaml
from tests.fuzzing import COMMON, clean
from tests.helpers import DATA

TINY_TEXT = (DATA / "tiny.yaml").read_text()
FAST = {"max_examples": 500}
SLOW = {"max_examples": 20_000}
YAML_CHARS = string.ascii_letters[:8] + string.digits[:4] + " \n\t-:,[]{}&*!|>'\"#%@?.=~\\\x00é"

REAL = load_plugins([])


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except BenchError as exc:
        clean(exc)
        return exc


# ---- strategies ----------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["fgsm", "cnn", "none", "digits", "distillation",
                                           "train[:50%]", "test", "*", "inf", "random"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
names = st.sampled_from(["cnn", "none", "distillation", "fgsm", "bim", "cw-l2", "ifgsm",
                         "digits", "emnist", "fgms", ""])
model_names = st.sampled_from(["cnn", "cnn", "cnn", "mlp"])
defense_names = st.sampled_from(["none", "distillation", "distillation", "nope"])
attack_names = st.sampled_from(["fgsm", "bim", "cw-l2", "ifgsm", "fgms"])


def component(params: st.SearchStrategy[Any], name: st.SearchStrategy[str] = names,
              samples: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    optional = {"params": params, "samples": mostly(st.integers(1, 50))} if \
        samples else {"params": params}
    return st.fixed_dictionaries({"name": name}, optional=optional)


plausible = st.one_of(
    st.floats(-0.5, 2), st.integers(-2, 300), st.booleans(),
    st.sampled_from(["inf", 2, 1, "random", "next", "adam", "sgd", "ce", "margin", "0.1"]),
)
param_maps = st.dictionaries(
    st.sampled_from(["eps", "epochs", "temperature", "norm", "target", "eps_step", "max_iter",
                     "optimizer", "learning_rate", "loss", "iterations", "x"]),
    st.one_of(plausible, plausible, values, st.lists(plausible, max_size=4)),
    max_size=3,
)
def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = values,
           ratio: int = 6) -> st.SearchStrategy[Any]:
    """``good`` about ``ratio`` times as often as ``bad``."""
    return st.integers(0, ratio).flatmap(lambda i: bad if i == 0 else good)


suites = st.fixed_dictionaries(
    {"name": mostly(st.just("f"), ratio=15),
     "dataset": mostly(ratio=15, good=st.fixed_dictionaries(
         {"name": mostly(st.just("digits"), names)},
         optional={"train": mostly(st.sampled_from(["train", "train[:10%]", "tr[", "test[5:2]",
                                                    "train[-20%:]"])),
                   "params": mostly(st.fixed_dictionaries({}, optional={
                       "size": mostly(st.integers(0, 300))}))})),
     "models": st.lists(component(param_maps, model_names), min_size=1, max_size=2),
     "attacks": st.lists(component(param_maps, attack_names, True), min_size=1, max_size=3)},
    optional={
        "defenses": st.lists(component(param_maps, defense_names), min_size=1, max_size=2),
        "exclude": st.lists(st.dictionaries(st.sampled_from(["model", "defense", "attack", "x"]),
                                            mostly(st.one_of(names, st.just("*"),
                                                             st.just("distillation*"))),
                                            max_size=2), max_size=2),
        "transfer": st.lists(st.fixed_dictionaries(
            {"source": st.dictionaries(st.sampled_from(["model", "defense"]),
                                       st.one_of(names, st.just("*")), max_size=2)},
            optional={"attack": st.one_of(names, st.just("*")),
                      "target": st.dictionaries(st.sampled_from(["model", "defense"]),
                                                st.one_of(names, st.just("*")), max_size=2)}),
            max_size=2),
        "evaluation": st.dictionaries(
            st.sampled_from(["samples", "seed", "batch_size", "max_cells", "examples"]),
            mostly(st.integers(-2, 2**33)), max_size=3),
        "seed": mostly(st.integers(-1, 2**65)),
    },
)


@st.composite
def mutated_tiny(draw: st.DrawFn) -> str:
    """The tiny suite with a few characters inserted, deleted or replaced."""
    text = TINY_TEXT
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = draw(st.text(alphabet=YAML_CHARS, min_size=1, max_size=3))
        if op == "insert":
            text = text[:pos] + ch + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + len(ch):]
        else:
            text = text[:pos] + ch + text[pos + len(ch):]
    return text


@st.composite
def laughs(draw: st.DrawFn) -> str:
    """Nested anchors and aliases, up to 13**13 values once expanded."""
    levels, width = draw(st.integers(1, 13)), draw(st.integers(1, 13))
    field = draw(st.sampled_from(["name", "description", "x"]))
    lines = [f"{field}: &a0 [lol]"]
    for i in range(1, levels + 1):
        lines.append(f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    lines.append(f"{field}2: *a{levels}")
    return "\n".join(lines) + "\n"


texts = st.one_of(st.text(alphabet=YAML_CHARS, max_size=300), st.text(max_size=100),
                  mutated_tiny(), laughs())


# ---- properties ----------------------------------------------------------------------------

def _load_text(tmp: Path, text: str) -> None:
    p = tmp / "s.yaml"
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = outcome(load_suite, p)
    if isinstance(result, tuple):
        suite = result[0]
        plan = outcome(plan_suite, suite, str(p), REAL)
        if not isinstance(plan, BaseException):
            transfer_plan(plan.cells, suite)


def _load_bytes(tmp: Path, data: bytes) -> None:
    p = tmp / "b.yaml"
    p.write_bytes(data)
    result = outcome(read_suite_file, p)
    assert isinstance(result, dict | BenchError)


def _validate_structure(data: dict[str, Any]) -> None:
    parsed = outcome(load_yaml, yaml.safe_dump(data, allow_unicode=True), "s.yaml")
    if isinstance(parsed, BaseException):
        return
    suite = outcome(validate_suite, parsed, "s.yaml")
    if isinstance(suite, BaseException):
        event("invalid suite")
        return
    plan = outcome(plan_suite, suite, "s.yaml", REAL)
    event("planned" if not isinstance(plan, BaseException) else "invalid grid")
    if not isinstance(plan, BaseException):
        assert 0 < len(plan.cells) <= suite.evaluation.max_cells
        transfer_plan(plan.cells, suite)
        outcome(expand_grid, suite, REAL, "s.yaml")


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-suite")


@settings(**FAST, **COMMON)
@given(text=texts)
def test_suite_text(tmp: Path, text: str) -> None:
    _load_text(tmp, text)


@settings(**FAST, **COMMON)
@given(data=st.one_of(st.binary(max_size=300),
                      mutated_tiny().map(lambda t: t.encode()).flatmap(
                          lambda b: st.tuples(st.just(b), st.binary(min_size=1, max_size=3),
                                              st.integers(0, len(b))).map(
                              lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:]))))
def test_suite_bytes(tmp: Path, data: bytes) -> None:
    _load_bytes(tmp, data)


@settings(**FAST, **COMMON)
@given(data=suites)
def test_suite_structure(data: dict[str, Any]) -> None:
    _validate_structure(data)


@pytest.mark.slow
@settings(**SLOW, **COMMON)
@given(text=texts)
def test_suite_text_slow(tmp: Path, text: str) -> None:
    _load_text(tmp, text)


@pytest.mark.slow
@settings(**SLOW, **COMMON)
@given(data=st.binary(max_size=2000))
def test_suite_bytes_slow(tmp: Path, data: bytes) -> None:
    _load_bytes(tmp, data)


@pytest.mark.slow
@settings(**SLOW, **COMMON)
@given(data=suites)
def test_suite_structure_slow(data: dict[str, Any]) -> None:
    _validate_structure(data)
