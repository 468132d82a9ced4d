"""The fault-injection suite: real processes killed at seeded points (marker ``faults``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults.harness import Lab


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: kills real lantai processes at fault points (tests/faults)"
    )


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    """A fresh SQLite instance in a temporary home."""
    lab = Lab(tmp_path)
    lab.initialise()
    return lab
