"""check_dataset fails, naming the property, on datasets that break the contract."""

from __future__ import annotations

import numpy as np
import pytest

from bench.interfaces import Dataset, DataSplit
from bench.splits import parse_split
from bench.testing import check_dataset


class Ramp(Dataset):
    """40 images whose pixels encode their index; subclasses break one rule."""

    name = "ramp"
    dtype = np.float32
    top = 1.0

    def arrays(self):
        x = np.repeat(np.linspace(0, self.top, 40, dtype=np.float64), 16).reshape(40, 4, 4, 1)
        return x.astype(self.dtype), np.arange(40, dtype=np.int64) % 3

    def load(self, split):
        spec = parse_split(split)
        x, y = self.arrays()
        sl = spec.resolve(len(y))
        return DataSplit(x[sl], y[sl], 3, ("a", "b", "c"), f"ramp:{spec}")


class Float64(Ramp):
    dtype = np.float64


class TooBright(Ramp):
    top = 2.0


class BadLabels(Ramp):
    def arrays(self):
        x, y = super().arrays()
        return x, y + 1


class IgnoresSlices(Ramp):
    def load(self, split):
        return super().load(parse_split(split).split)


class Reshuffled(Ramp):
    """A new random order at every load: slices look fine, fingerprints change."""

    def load(self, split):
        out = super().load(split)
        if not parse_split(split).is_full:
            return out
        order = np.random.default_rng().permutation(len(out))
        return DataSplit(out.x[order], out.y[order], 3, out.class_names, out.name)


def test_a_good_dataset_passes():
    report = check_dataset(Ramp)
    assert report.checked == ["returns DataSplit", "inside clip_values", "labels in range",
                              "slicing", "fingerprint stable"]


@pytest.mark.parametrize(("cls", "message"), [
    (Float64, "check_dataset(ramp).load('train'): returns DataSplit: images are float64 with "
     "shape (40, 4, 4, 1), expected float32 NHWC (4 dimensions)"),
    (TooBright, "check_dataset(ramp).load('train'): inside clip_values: pixels span [0, 2], "
     "outside clip_values [0, 1]"),
    (BadLabels, "check_dataset(ramp).load('train'): labels in range: 13 labels outside [0, 3), "
     "e.g. 3"),
    (IgnoresSlices, "check_dataset(ramp).load('train'): slicing: load('train[:10]') is not "
     "samples [0:10] of load('train') (40 samples returned)"),
    (Reshuffled, "check_dataset(ramp).load('train'): slicing: load('train[:10]') is not "
     "samples [0:10] of load('train') (10 samples returned)"),
])
def test_a_broken_rule_is_named(cls, message):
    with pytest.raises(AssertionError) as info:
        check_dataset(cls)
    assert str(info.value) == message


def test_an_already_sliced_split_skips_slicing():
    report = check_dataset(Ramp, "test[:20]")
    assert report.skipped == {"slicing": "'test[:20]' is already a slice"}
