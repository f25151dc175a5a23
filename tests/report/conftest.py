"""Fixtures of the report tests (see hand_made_set.py for the files they lay out)."""

from pathlib import Path

import pytest
from hand_made_set import make_set


@pytest.fixture
def tiny_set(tmp_path) -> Path:
    return make_set(tmp_path / "tinyset")
