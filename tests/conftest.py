from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_EMNIST = REPO_ROOT.parent / "shared" / "data" / "emnist"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
