"""Dashboard fixtures: the known instance."""

from __future__ import annotations

import pytest

from dashboard_support import Known, build_known
from lantai.instance import Instance
from lantai.security import Actor


@pytest.fixture
def known(instance: Instance, operator: Actor) -> Known:
    return build_known(instance, operator)
