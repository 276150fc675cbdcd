"""A -p plugin whose dataset fails to load and whose reporter fails to render (plugin bugs)."""

from bench import hookimpl
from bench.interfaces import Dataset, Reporter


class BrokenData(Dataset):
    name = "broken-data"
    version = "0.0.1"

    def load(self, split):
        raise ValueError(f"cannot parse {split}.bin")


class BrokenReporter(Reporter):
    name = "broken-report"
    version = "0.0.1"

    def render(self, report):
        raise KeyError("rows")


@hookimpl
def bench_register_datasets():
    return [BrokenData]


@hookimpl
def bench_register_reporters():
    return [BrokenReporter]
