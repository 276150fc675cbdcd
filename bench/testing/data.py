"""The tiny real data of the kit: scikit-learn's bundled digits (the built-in ``digits``
dataset, 28x28 float32 in [0, 1], 10 classes): 300 training and 60 test images."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bench.interfaces import DataSplit

#: the split strings the kit loads from the ``digits`` dataset
TRAIN_SPLIT = "train[:300]"
TEST_SPLIT = "test[:60]"


@dataclass(frozen=True)
class TinyData:
    """A training and a test split of the bundled digits (read-only arrays)."""

    train: DataSplit
    test: DataSplit


@lru_cache(maxsize=1)
def tiny_data() -> TinyData:
    """300 training and 60 test digits, loaded once per process (the arrays are read-only: a
    plugin that writes into its input fails loudly, as it would in a run)."""
    from bench_builtin.datasets.digits import Digits

    digits = Digits()
    train, test = digits.load(TRAIN_SPLIT), digits.load(TEST_SPLIT)
    for split in (train, test):
        split.x.flags.writeable = False
        split.y.flags.writeable = False
    return TinyData(train, test)
