"""Fixtures of the check tests: an instance with the target 全宗 Z109."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from factories import create_fonds
from lantai.instance import Instance
from lantai.security import Actor


@pytest.fixture
def inst(shared_inst: Instance) -> Instance:
    """The module's SQLite instance with 全宗 Z109 (the target of every test transfer).

    Checks only read the catalogue, so one instance serves a whole module; a test that writes
    catalogue rows or counters uses ``db_inst`` (a fresh database, SQLite and PostgreSQL).
    """
    return shared_inst


@pytest.fixture
def db_inst(any_instance: Instance, operator: Actor) -> Iterator[Instance]:
    """Z109 on SQLite and on PostgreSQL, for the items that query the catalogue."""
    create_fonds(any_instance, operator, code="Z109")
    yield any_instance


@pytest.fixture(scope="module")
def shared_inst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """One SQLite instance with 全宗 Z109 for a whole module of read-only check runs (the
    checks write nothing; only receipt events are appended, keyed by each transfer's uid)."""
    from datetime import date

    from conftest import make_settings

    inst = Instance.initialise(make_settings(tmp_path_factory.mktemp("shared") / "home"))
    inst.catalogue.today = lambda: date(2026, 11, 21)
    create_fonds(inst, Actor.operator(), code="Z109")
    yield inst
    inst.close()
