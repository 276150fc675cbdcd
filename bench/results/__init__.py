"""Results: the store (the only SQL), the typed results model every renderer reads, metric
declarations, and the statistics (flags, robust accuracy, verdicts) computed once per run."""

from __future__ import annotations

from bench.results.model import RunResults, load_results
from bench.results.records import Cell, Flag, Row, Run, Sample

__all__ = ["Cell", "Flag", "Row", "Run", "RunResults", "Sample", "load_results"]
