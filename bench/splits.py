"""TFDS-style split selection: ``train``, ``test[:85%]``, ``train[1000:2000]``, ``test[-10%:]``.

A split string names a split and optionally slices it, either in absolute sample counts or in
percent of the split (never both in one slice, as in TFDS). Percent boundaries are converted
the way TFDS does by default (``rounding="closest"``): ``round(pct * n / 100)``, so
``test[:85%]`` and ``test[85%:]`` of the same split are complementary and disjoint. Negative
boundaries count from the end. An absolute boundary past the end of the split is an error
(TFDS refuses it too) rather than a silent truncation, and so is a slice that selects nothing.

Datasets call :func:`parse_split` once and :meth:`SplitSpec.resolve` with their split length::

    spec = parse_split("test[:85%]")        # SplitSpec(split='test', start=None, stop=85, ...)
    sl = spec.resolve(116_323)               # slice(0, 98875)
    x, y = x_all[sl], y_all[sl]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bench.errors import ConfigError
from bench.yamlsafe import short_repr

__all__ = ["SplitSpec", "parse_split"]

_NUMBER = r"[+-]?[0-9]+(?:\.[0-9]+)?%?"
#: longest split string accepted (and longest boundary, in digits)
_MAX_CHARS = 200
_MAX_DIGITS = 18
_SPLIT_RE = re.compile(
    rf"^(?P<split>[A-Za-z][A-Za-z0-9_-]*)"
    rf"(?:\[(?P<start>{_NUMBER})?(?P<colon>:)?(?P<stop>{_NUMBER})?\])?$"
)
_FORMS = "'train', 'test[:85%]', 'test[85%:]', 'train[:20000]', 'train[1000:2000]', 'test[-10%:]'"


@dataclass(frozen=True)
class SplitSpec:
    """A parsed split string: split name, optional boundaries and their unit."""

    split: str
    start: float | None = None
    stop: float | None = None
    unit: Literal["abs", "%"] = "abs"
    text: str = ""

    @property
    def is_full(self) -> bool:
        """True when the whole split is selected (no slice given)."""
        return self.start is None and self.stop is None

    def __str__(self) -> str:
        return self.text or self.split

    def bounds(self, n: int) -> tuple[int, int]:
        """Absolute ``(start, stop)`` of this selection in a split of ``n`` samples."""
        start = self._boundary(self.start, n, 0)
        stop = self._boundary(self.stop, n, n)
        if stop <= start:
            raise ConfigError(
                f"split {str(self)!r} selects no samples (resolves to [{start}:{stop}] of {n})"
            )
        return start, stop

    def resolve(self, n: int) -> slice:
        """The :class:`slice` selecting this spec's samples in a split of ``n`` samples."""
        start, stop = self.bounds(n)
        return slice(start, stop)

    def _boundary(self, value: float | None, n: int, default: int) -> int:
        if value is None:
            return default
        if self.unit == "%":
            pos = int(round(value * n / 100.0))  # TFDS "closest" rounding
        else:
            pos = int(value)
            if abs(pos) > n:
                raise ConfigError(
                    f"split {str(self)!r} asks for boundary {pos} "
                    f"but {self.split!r} has only {n} samples"
                )
        return pos + n if pos < 0 else pos

    def check_split(self, available: Iterable[str], what: str = "dataset") -> None:
        """Raise :class:`ConfigError` unless the split name is one of ``available``."""
        names = list(available)
        if self.split not in names:
            raise ConfigError(
                f"unknown split {self.split!r} for {what}; available: {', '.join(names)}"
            )


def _number(token: str | None, text: str) -> tuple[float | None, str | None]:
    if token is None:
        return None, None
    unit = "%" if token.endswith("%") else "abs"
    raw = token.rstrip("%")
    if unit == "abs" and "." in raw:
        raise ConfigError(
            f"invalid split {short_repr(text)}: absolute boundary {token!r} must be an integer")
    if len(raw.lstrip("+-").split(".")[0]) > _MAX_DIGITS:
        raise ConfigError(f"invalid split {short_repr(text)}: boundary {short_repr(token, 30)} "
                          "is too large")
    value = float(raw) if unit == "%" else int(raw)
    if unit == "%" and not -100 <= value <= 100:
        raise ConfigError(
            f"invalid split {short_repr(text)}: percent {token!r} must be within -100%..100%")
    return value, unit


def parse_split(text: str) -> SplitSpec:
    """Parse a TFDS-style split string; raise :class:`ConfigError` when it is malformed.

    This is the public API for dataset plugins: :meth:`bench.interfaces.Dataset.load` receives
    the suite's split string (``dataset.train`` / ``dataset.test``) and honours it in three
    steps, parse, check the name, slice (a :class:`ConfigError` from any of them reaches the
    user as one line)::

        def load(self, split: str) -> DataSplit:
            spec = parse_split(split)                # "train[:20%]" -> SplitSpec
            spec.check_split(("train", "test"), "my-dataset")
            x_all, y_all = self._arrays(spec.split)  # the whole named split
            sl = spec.resolve(len(y_all))            # slice(0, round(0.2 * n))
            return DataSplit(x_all[sl], y_all[sl], num_classes=10,
                             class_names=tuple("0123456789"), name=f"my-dataset:{spec}")

    >>> spec = parse_split("train[:20%]")
    >>> spec.split, spec.start, spec.stop, spec.unit
    ('train', None, 20.0, '%')
    >>> spec.resolve(300)
    slice(0, 60, None)
    >>> parse_split("test[-10:]").resolve(100)
    slice(90, 100, None)
    >>> parse_split("train").is_full
    True
    """
    if not isinstance(text, str):
        raise ConfigError(f"invalid split {short_repr(text)}: expected a string such as {_FORMS}")
    if len(text) > _MAX_CHARS:
        raise ConfigError(f"invalid split {short_repr(text)}: longer than {_MAX_CHARS} characters")
    cleaned = text.strip().replace(" ", "")
    m = _SPLIT_RE.fullmatch(cleaned)
    if m is None:
        raise ConfigError(f"invalid split {short_repr(text)}: expected a form such as {_FORMS}")
    start_tok, stop_tok = m.group("start"), m.group("stop")
    if "[" in cleaned and m.group("colon") is None:
        raise ConfigError(
            f"invalid split {short_repr(text)}: a slice needs a colon, e.g. "
            f"'{m.group('split')}[:{start_tok or '85%'}]'"
        )
    start, u1 = _number(start_tok, text)
    stop, u2 = _number(stop_tok, text)
    if u1 and u2 and u1 != u2:
        raise ConfigError(
            f"invalid split {short_repr(text)}: both boundaries must use the same unit "
            "(percent or count)"
        )
    unit = u1 or u2 or "abs"
    return SplitSpec(m.group("split"), start, stop, unit, cleaned)  # type: ignore[arg-type]
