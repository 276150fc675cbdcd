"""Bad suites and overrides: one line naming the file and the field, exit 4, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_input.harness import TINY, Case, run_case


def write(name: str, text: str | bytes):
    def setup(world: Path) -> None:
        p = world / name
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)
    return setup


TINY_TEXT = TINY.read_text()

CASES = [
    Case("negative-eps-in-sweep", ["run", "bad.yaml"],
         "error: bad.yaml: attacks[0].params.eps[1]: Input should be greater than or equal "
         "to 0, got -0.3",
         setup=write("bad.yaml", TINY_TEXT.replace("eps: [0.1, 0.3]", "eps: [0.1, -0.3]"))),
    Case("unknown-model-param", ["validate", "{tiny}", "--set", "models[0].params.epoch=3"],
         "error: {tiny}: models[0].params.epoch: unknown field"),
    Case("limit-zero", ["run", "{tiny}", "--limit", "0"], "error: --limit: must be > 0, got 0"),
    Case("missing-suite", ["run", "nope.yaml"], "error: nope.yaml: no such suite file"),
    Case("not-a-mapping", ["validate", "list.yaml"],
         "error: list.yaml: a suite must be a mapping, got list", setup=write("list.yaml", "- a\n")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_suite_input(case: Case, world: Path) -> None:
    run_case(case, world)
