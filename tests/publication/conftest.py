"""Publication fixtures: a search kit over a test instance and a small fonds with 开放/控制 items."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lantai.instance import Instance
from search_support import SearchKit, make_kit


@pytest.fixture
def kit(instance: Instance) -> Iterator[SearchKit]:
    k = make_kit(instance)
    yield k
    k.indexer.release()


@pytest.fixture
def any_kit(any_instance: Instance) -> Iterator[SearchKit]:
    k = make_kit(any_instance)
    yield k
    k.indexer.release()
