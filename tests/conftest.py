"""What many test modules share: one VGG-19 on the CPU for the whole session (real weights)."""
from __future__ import annotations

import pytest

from daemon.engine import ModelSpec, load_model


@pytest.fixture(scope="session")
def model():
    """The original VGG-19 on the CPU, loaded once (tests/test_speed.py's own picks its device)."""
    return load_model(ModelSpec(device="cpu"))
