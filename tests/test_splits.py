from __future__ import annotations

import pytest

from bench.errors import ConfigError
from bench.splits import SplitSpec, parse_split


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("train", 100, (0, 100)),
        ("test", 7, (0, 7)),
        ("test[:85%]", 100, (0, 85)),
        ("test[85%:]", 100, (85, 100)),
        ("train[:20000]", 60000, (0, 20000)),
        ("train[1000:2000]", 60000, (1000, 2000)),
        ("test[-10%:]", 100, (90, 100)),
        ("test[:-10%]", 100, (0, 90)),
        ("train[-5:]", 20, (15, 20)),
        ("train[:-5]", 20, (0, 15)),
        ("train[10%:20%]", 1000, (100, 200)),
        ("train[:100%]", 3, (0, 3)),
        ("train[:12.5%]", 80, (0, 10)),
        ("train[:]", 9, (0, 9)),
        (" test[ : 50% ] ", 10, (0, 5)),
    ],
)
def test_bounds(text: str, n: int, expected: tuple[int, int]) -> None:
    assert parse_split(text).bounds(n) == expected
    assert parse_split(text).resolve(n) == slice(*expected)


def test_parse_fields() -> None:
    spec = parse_split("test[:85%]")
    assert spec == SplitSpec("test", None, 85.0, "%", "test[:85%]")
    assert str(spec) == "test[:85%]"
    assert not spec.is_full
    assert parse_split("train").is_full
    assert parse_split("train").unit == "abs"


def test_percent_rounding_matches_tfds_closest() -> None:
    # TFDS default rounding: int(round(pct * n / 100)); complementary slices partition the split.
    n = 116_323
    a, b = parse_split("test[:85%]").bounds(n), parse_split("test[85%:]").bounds(n)
    assert a == (0, 98_875) and b == (98_875, n)
    assert parse_split("x[:33%]").bounds(10) == (0, 3)  # 3.3 -> 3
    assert parse_split("x[:35%]").bounds(10) == (0, 4)  # 3.5 -> 4 (banker's: round(3.5) == 4)
    assert parse_split("x[:25%]").bounds(10) == (0, 2)  # 2.5 -> 2 (banker's, as in TFDS)
    for n in range(3, 60):
        lo, hi = parse_split("t[:37%]").bounds(n)[1], parse_split("t[37%:]").bounds(n)[0]
        assert lo == hi


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid split '': expected a form such as"),
        ("train[", "invalid split 'train[': expected a form such as"),
        ("train[5]", "invalid split 'train[5]': a slice needs a colon, e.g. 'train[:5]'"),
        ("train[a:b]", "invalid split 'train[a:b]': expected a form such as"),
        ("train[1:2:3]", "invalid split 'train[1:2:3]': expected a form such as"),
        (
            "train[10%:2000]",
            "invalid split 'train[10%:2000]': both boundaries must use the same unit",
        ),
        ("train[:150%]", "invalid split 'train[:150%]': percent '150%' must be within -100%..100%"),
        ("train[:1.5]", "invalid split 'train[:1.5]': absolute boundary '1.5' must be an integer"),
        ("train+test", "invalid split 'train+test': expected a form such as"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_split(text)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_not_a_string() -> None:
    with pytest.raises(ConfigError, match="expected a string"):
        parse_split(85)  # type: ignore[arg-type]


def test_out_of_range_and_empty() -> None:
    with pytest.raises(ConfigError) as err:
        parse_split("train[:20000]").bounds(1797)
    assert str(err.value) == (
        "split 'train[:20000]' asks for boundary 20000 but 'train' has only 1797 samples"
    )
    with pytest.raises(ConfigError) as err:
        parse_split("train[50:10]").bounds(100)
    assert str(err.value) == "split 'train[50:10]' selects no samples (resolves to [50:10] of 100)"
    with pytest.raises(ConfigError, match="selects no samples"):
        parse_split("train[:1%]").bounds(10)


def test_check_split() -> None:
    parse_split("test[:5]").check_split(["train", "test"], "emnist-bymerge")
    with pytest.raises(ConfigError) as err:
        parse_split("valid").check_split(["train", "test"], "emnist-bymerge")
    assert str(err.value) == "unknown split 'valid' for emnist-bymerge; available: train, test"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train[:" + "9" * 5000 + "]", "invalid split 'train[:99999999999999999999999999999999"),
        ("train[:٣]", "invalid split 'train[:٣]': expected a form such as"),
        ("t" * 300, "invalid split '" + "t" * 76 + "...: longer than 200 characters"),
    ],
)
def test_hostile_split_strings(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_split(text)
    assert str(err.value).startswith(message)
    assert len(str(err.value)) < 300


def test_parse_split_docstring_examples_run():
    """The examples dataset authors read in ``parse_split``'s docstring are true."""
    import doctest

    import bench.splits

    result = doctest.testmod(bench.splits, raise_on_error=False)
    assert result.attempted >= 5 and result.failed == 0
