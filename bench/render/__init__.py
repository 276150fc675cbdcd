"""Renderers of the results model: terminal, HTML (with its figures), pytest-benchmark JSON and
the comparison of two runs."""
