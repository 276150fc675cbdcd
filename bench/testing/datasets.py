"""``check_dataset``: what every dataset plugin's ``load`` must return, as the host relies on it."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.checks import ATOL
from bench.errors import BenchError
from bench.interfaces import Dataset, DataSplit
from bench.splits import parse_split
from bench.testing.report import ContractReport, instance, label


def check_dataset(dataset: type[Dataset] | Dataset, split: str = "train", *,
                  params: dict[str, Any] | None = None) -> ContractReport:
    """Check a dataset's contract on one split; raise ``AssertionError`` naming the first
    violated property, else return a :class:`ContractReport`.

    ``dataset`` is a class (instantiated with ``params``) or an instance; ``split`` a whole
    split's name (``train``, ``test``). Properties:

    - **returns DataSplit** with images ``float32`` NHWC (4 dimensions) and labels ``int64``
      (1 dimension), as many labels as images, ``num_classes`` class names;
    - **inside clip_values**: every pixel finite and within the declared data range;
    - **labels in range**: every label in ``[0, num_classes)``;
    - **slicing**: ``split[:10]``, ``split[10:20]``, ``split[:50%]`` and ``split[-10%:]`` give
      exactly those samples of the whole split (the rules of :func:`bench.splits.parse_split`);
    - **fingerprint stable**: a second load, by a new instance, has the same
      :meth:`~bench.interfaces.DataSplit.fingerprint` (cached networks are keyed by it).

    It loads the split three times or more: check a small split (``test``) of a large dataset.
    """
    ds: Dataset = instance(dataset, Dataset, "check_dataset", params)
    report = ContractReport(f"{label(ds, 'dataset')}.load({split!r})")
    full = _load(ds, split, report)
    _check_arrays(full, report)
    spec = parse_split(split)
    if not spec.is_full:
        report.skip("slicing", f"{split!r} is already a slice")
    else:
        _check_slicing(ds, split, full, report)
    again = _load(type(ds)(ds.params), split, report)
    if again.fingerprint() != full.fingerprint():
        report.fail("fingerprint stable", "two loads of the same split have different "
                    "fingerprints (different bytes, shapes, class count or data range): cached "
                    "networks would never be found again")
    report.ok("fingerprint stable")
    report.measured.update(samples=len(full), input_shape=full.input_shape,
                           num_classes=full.num_classes)
    return report


def _load(ds: Dataset, split: str, report: ContractReport) -> DataSplit:
    try:
        out = ds.load(split)
    except BenchError as exc:
        report.fail(f"load({split!r})", f"raised {type(exc).__name__}: {exc}")
    if not isinstance(out, DataSplit):
        report.fail("returns DataSplit", f"load({split!r}) returned {type(out).__qualname__}")
    return out


def _check_arrays(data: DataSplit, report: ContractReport) -> None:
    prop = "returns DataSplit"
    if data.x.dtype != np.float32 or data.x.ndim != 4:
        report.fail(prop, f"images are {data.x.dtype} with shape {data.x.shape}, expected "
                    "float32 NHWC (4 dimensions)")
    if data.y.dtype != np.int64 or data.y.ndim != 1:
        report.fail(prop, f"labels are {data.y.dtype} with shape {data.y.shape}, expected "
                    "int64 class indices (1 dimension)")
    if len(data) == 0:
        report.fail(prop, "the split is empty")
    if len(data.class_names) != data.num_classes or data.num_classes < 2:
        report.fail(prop, f"num_classes is {data.num_classes} with {len(data.class_names)} "
                    "class names")
    report.ok(prop)
    lo, hi = data.clip_values
    if not lo < hi:
        report.fail("inside clip_values", f"clip_values {data.clip_values} is not (low, high)")
    flat = data.x.reshape(len(data), -1)
    if not np.isfinite(flat).all():
        report.fail("inside clip_values", "some pixels are not finite")
    below, above = float(flat.min()), float(flat.max())
    if below < lo - ATOL or above > hi + ATOL:
        report.fail("inside clip_values", f"pixels span [{below:g}, {above:g}], outside "
                    f"clip_values [{lo:g}, {hi:g}]")
    report.ok("inside clip_values")
    bad = (data.y < 0) | (data.y >= data.num_classes)
    if bad.any():
        report.fail("labels in range", f"{int(bad.sum())} labels outside [0, "
                    f"{data.num_classes}), e.g. {int(data.y[bad][0])}")
    report.ok("labels in range")


def _check_slicing(ds: Dataset, split: str, full: DataSplit, report: ContractReport) -> None:
    n = len(full)
    texts = [f"{split}[:{min(10, n)}]", f"{split}[:50%]", f"{split}[-10%:]"]
    if n >= 20:
        texts.insert(1, f"{split}[10:20]")
    for text in texts:
        if text.endswith("%:]") and round(0.1 * n) == 0:
            continue
        sl = parse_split(text).resolve(n)
        part = _load(ds, text, report)
        if not (np.array_equal(part.x, full.x[sl]) and np.array_equal(part.y, full.y[sl])):
            report.fail("slicing", f"load({text!r}) is not samples [{sl.start}:{sl.stop}] of "
                        f"load({split!r}) ({len(part)} samples returned)")
    report.ok("slicing")
