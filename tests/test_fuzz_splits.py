"""Property-based tests of the split parser.

Any split string gives a :class:`SplitSpec` whose ``resolve`` is a non-empty in-range slice, or
one ConfigError line. The default run tries several hundred examples per property;
``pytest -m slow`` many more.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.errors import BenchError
from bench.splits import SplitSpec, parse_split
from tests.fuzzing import COMMON, clean

FAST = {"max_examples": 800}
SLOW = {"max_examples": 50_000}


# ---- splits --------------------------------------------------------------------------------

SPLIT_CHARS = "traintes[]:%-+.0123456789 _٣"
numbers = st.one_of(st.integers(-200, 200).map(str), st.floats(-150, 150).map(lambda f: f"{f:.2f}"),
                    st.integers().map(str), st.just(""))


@st.composite
def split_strings(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["train", "test", "valid", "t", "_x", "1a", ""]))
    if draw(st.booleans()):
        return name
    start = draw(numbers) + draw(st.sampled_from(["", "%"]))
    stop = draw(numbers) + draw(st.sampled_from(["", "%"]))
    colon = draw(st.sampled_from([":", ":", "", "::"]))
    return f"{name}[{start}{colon}{stop}]" + draw(st.sampled_from(["", "", "]", " ", "\n"]))


split_inputs = st.one_of(split_strings(), st.text(alphabet=SPLIT_CHARS, max_size=25),
                         st.text(max_size=25))


def _split(text: str, n: int) -> None:
    try:
        spec = parse_split(text)
    except BenchError as exc:
        clean(exc)
        return
    assert isinstance(spec, SplitSpec)
    try:
        sl = spec.resolve(n)
    except BenchError as exc:
        clean(exc)
        return
    assert 0 <= sl.start < sl.stop <= n, (text, n, sl)


@settings(**FAST, **COMMON)
@given(text=split_inputs, n=st.integers(0, 10**6))
def test_split(text: str, n: int) -> None:
    _split(text, n)


@settings(**FAST, **COMMON)
@given(pct=st.integers(-100, 100), n=st.integers(1, 10**6))
def test_percent_splits_are_complementary(pct: int, n: int) -> None:
    a, b = parse_split(f"test[:{pct}%]"), parse_split(f"test[{pct}%:]")
    try:
        first = a.bounds(n)
    except BenchError:
        first = None
    try:
        second = b.bounds(n)
    except BenchError:
        second = None
    sizes = (first[1] - first[0] if first else 0) + (second[1] - second[0] if second else 0)
    assert sizes == n


@pytest.mark.slow
@settings(**SLOW, **COMMON)
@given(text=split_inputs, n=st.integers(0, 10**7))
def test_split_slow(text: str, n: int) -> None:
    _split(text, n)
