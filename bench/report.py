"""Earlier home of the results model; kept so that existing imports work. Use
:mod:`bench.results`."""

from __future__ import annotations

from bench.results.model import RunReport, RunResults, load_report, load_results

__all__ = ["RunReport", "RunResults", "load_report", "load_results"]
