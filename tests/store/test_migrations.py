"""Migrations match the models on both databases, and downgrade cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from lantai.store.migrate import alembic_config, upgrade


def _urls(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_models_and_migrations_agree(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    url = _urls(tmp_path, request, backend)
    upgrade(url)
    command.check(alembic_config(url))  # raises if a model change has no migration
    command.downgrade(alembic_config(url), "base")
    upgrade(url)
