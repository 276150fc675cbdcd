"""Property-based tests of ``--set`` (paths and YAML values).

Any assignment gives a changed copy of the suite (the input untouched) or one ConfigError line.
The default run tries several hundred examples per property; ``pytest -m slow`` many more.
"""

from __future__ import annotations

import copy
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.errors import BenchError
from bench.overrides import apply_overrides, parse_path
from tests.fuzzing import COMMON, clean

FAST = {"max_examples": 800}
SLOW = {"max_examples": 50_000}

SUITE: dict[str, Any] = {
    "name": "s",
    "evaluation": {"samples": 100},
    "models": [{"name": "cnn", "params": {"epochs": 50}}],
    "attacks": [{"name": "fgsm", "params": {"eps": [0.1, 0.2]}}, {"name": "cw-l2"},
                {"name": "fgsm", "params": {"eps": 0.2}}, "not-a-mapping"],
}


# ---- --set ---------------------------------------------------------------------------------

PATH_CHARS = "abcemnst.[]-0123456789 *=_²\n"
keys = st.sampled_from(["evaluation", "samples", "models", "attacks", "params", "eps", "name",
                        "epochs", "x", ""])
selectors = st.one_of(st.integers(-6, 6).map(lambda i: f"[{i}]"),
                      st.sampled_from(["[fgsm]", "[cw-l2]", "[cnn]", "[nope]", "[]", "[0",
                                       "[-]", "[99999999999999999999999]"]))


@st.composite
def paths(draw: st.DrawFn) -> str:
    parts = [draw(keys)]
    for _ in range(draw(st.integers(0, 4))):
        parts.append(draw(st.one_of(keys.map(lambda k: "." + k), selectors)))
    return "".join(parts)


yaml_values = st.one_of(
    st.text(alphabet=string.ascii_letters[:6] + string.digits[:3] + " -:,[]{}&*!|>'\"#%@?\n",
            max_size=40),
    st.sampled_from(["1", "0.5", "[1, 2]", "{a: 1}", "true", "null", "&a [*a]", "{a: 1, a: 2}",
                     "!!python/object/apply:os.system [ls]", "2020-13-45", "[" * 80, "*x",
                     "\x00", "\ud800"]),
    st.text(max_size=20),
)
assignments = st.one_of(
    st.tuples(paths(), yaml_values).map(lambda t: f"{t[0]}={t[1]}"),
    st.text(alphabet=PATH_CHARS, max_size=30),
    st.text(max_size=30),
)


def _apply(assigns: list[str]) -> None:
    before = copy.deepcopy(SUITE)
    try:
        out = apply_overrides(SUITE, assigns)
    except BenchError as exc:
        clean(exc)
    else:
        assert isinstance(out, dict)
    assert before == SUITE  # the input is never modified


def _path(path: str) -> None:
    try:
        parts = parse_path(path)
    except BenchError as exc:
        clean(exc)
    else:
        assert parts and all(isinstance(p, int | str) and p != "" for p in parts)


@settings(**FAST, **COMMON)
@given(assigns=st.lists(assignments, min_size=1, max_size=3))
def test_set(assigns: list[str]) -> None:
    _apply(assigns)


@settings(**FAST, **COMMON)
@given(path=st.one_of(paths(), st.text(alphabet=PATH_CHARS, max_size=40), st.text()))
def test_set_path(path: str) -> None:
    _path(path)


@pytest.mark.slow
@settings(**SLOW, **COMMON)
@given(assigns=st.lists(assignments, min_size=1, max_size=4))
def test_set_slow(assigns: list[str]) -> None:
    _apply(assigns)
