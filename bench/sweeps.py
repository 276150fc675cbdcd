"""The sweep rule: which parameter values in a suite are sweeps (one cell per item).

A parameter's value is a sweep when it is a list nested one level deeper than the parameter's
type. For a scalar parameter any list is a sweep (``eps: [0.1, 0.3]``: two cells); for a list-
or tuple-typed one a list is its value (``sizes: [1, 2]`` is one cell with ``sizes == [1, 2]``)
and a list of lists is a sweep of lists (``sizes: [[1, 2], [3]]``: two cells); for
``list[list[int]]`` it takes a list of lists of lists, and so on. An empty sweep is an error;
an empty list is a list-typed parameter's value. ``bench schema`` states the same rule.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from bench.interfaces import Params

_SEQUENCES = (list, tuple, set, frozenset)


def list_depth(annotation: Any) -> int:
    """How deeply a parameter's type nests lists (YAML has lists for tuples and sets too):
    0 for ``float``, 1 for ``list[int]`` or ``tuple[int, int] | None``, 2 for
    ``list[list[int]]``. A value one level deeper is a sweep."""
    origin = typing.get_origin(annotation)
    if annotation in _SEQUENCES or origin in _SEQUENCES:
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return 1 + max((list_depth(a) for a in args), default=0)
    if origin in (typing.Union, types.UnionType):
        return max(list_depth(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return list_depth(typing.get_args(annotation)[0])
    return 0


def _value_depth(value: Any) -> int:
    """How deeply ``value`` nests lists, counting only lists that nest all the way down
    (``[[1], 2]`` is 1 deep: its items are not all lists)."""
    if not isinstance(value, list):
        return 0
    return 1 + min((_value_depth(v) for v in value), default=0)


def is_sweep(params: type[Params], key: str, value: Any) -> bool:
    """True when ``value`` of parameter ``key`` is a sweep (see the module docstring); an
    unknown key is judged as a scalar (its validation then names it)."""
    fields = params.model_fields
    depth = list_depth(fields[key].annotation) if key in fields else 0
    return _value_depth(value) > depth
