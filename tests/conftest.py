"""Shared fixtures: instances on SQLite and on the real local PostgreSQL, actors, fixtures dir.

Every PostgreSQL-backed test run creates its own database (``lantai_test_<random>``) and drops it
afterwards. Set LANTAI_TEST_PG_URL to point elsewhere; when the server does not answer, the
PostgreSQL variants are skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from lantai.instance import Instance
from lantai.security import Actor
from lantai.settings import Settings

PG_ADMIN_URL = os.environ.get("LANTAI_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REPO = Path(__file__).resolve().parents[1]


def shared_fixtures_dir() -> Path:
    """The team's outside test data (../shared/fixtures), wherever this checkout lives."""
    env = os.environ.get("LANTAI_SHARED_FIXTURES")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "fixtures", Path("/work/shared/fixtures")]
    for c in candidates:
        if c.is_dir():
            return c
    pytest.skip("shared fixtures (../shared/fixtures) not found; set LANTAI_SHARED_FIXTURES")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return shared_fixtures_dir()


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    return PG_ADMIN_URL


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    import psycopg

    name = f"lantai_test_{secrets.token_hex(6)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    base = pg_server.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def make_settings(home: Path, database_url: str = "", **overrides: Any) -> Settings:
    # Cheap argon2 parameters: the hashing itself is the library's; tests only need it to work.
    overrides.setdefault("password_time_cost", 1)
    overrides.setdefault("password_memory_kib", 8192)
    return Settings(home=home, database_url=database_url, archive_code="136101", **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home")


@pytest.fixture
def instance(settings: Settings) -> Iterator[Instance]:
    """An initialised embedded (SQLite) instance in a temporary home."""
    inst = Instance.initialise(settings)
    inst.catalogue.today = lambda: date(2026, 11, 21)
    yield inst
    inst.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instance]:
    """The same instance on SQLite and on PostgreSQL: tests using it run on both."""
    if request.param == "sqlite":
        s = make_settings(tmp_path / "home")
    else:
        url = request.getfixturevalue("pg_database")
        s = make_settings(tmp_path / "home", database_url=url)
    inst = Instance.initialise(s)
    inst.catalogue.today = lambda: date(2026, 11, 21)
    yield inst
    inst.close()


@pytest.fixture
def operator() -> Actor:
    return Actor.operator()
