"""``bench compare RUN_A RUN_B``: differences per cell and metric, with regression gates.

(Placeholder: being implemented.)"""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a")
    parser.add_argument("run_b")
    parser.add_argument("--store")


def run(args: argparse.Namespace, console: Any) -> int:
    raise NotImplementedError
