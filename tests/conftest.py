"""Shared fixtures: instances on SQLite and on the real local PostgreSQL, actors, fixtures dir.

Every PostgreSQL-backed test run creates its own database (``lantai_test_<random>``) and drops it
afterwards. Set LANTAI_TEST_PG_URL to point elsewhere; when the server does not answer, the
PostgreSQL variants are skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
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


@pytest.fixture(autouse=True, scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run the migrations once per session; a new SQLite instance starts from a copy of that file.

    ``Instance.initialise`` migrates an empty database to head (~0.7 s of DDL on SQLite, most of
    a small test's time). The template is made by the same ``upgrade`` on an empty file, so a copy
    is byte for byte what the migrations would have produced; an existing database, PostgreSQL
    and any other revision go through the real ``upgrade``. Tests of the migrations themselves
    call ``lantai.store.migrate.upgrade`` and are not affected.
    """
    from sqlalchemy.engine import make_url

    import lantai.instance
    from lantai.store.migrate import upgrade

    template = tmp_path_factory.mktemp("migrated") / "template.db"
    upgrade(f"sqlite:///{template}")

    def from_template(url: str, revision: str = "head") -> None:
        u = make_url(url)
        target = Path(u.database) if u.database and u.get_backend_name() == "sqlite" else None
        if revision != "head" or target is None or target.exists():
            upgrade(url, revision)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)

    mp = pytest.MonkeyPatch()
    mp.setattr(lantai.instance, "upgrade", from_template)
    yield
    mp.undo()


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


def _pg_create(pg_server: str, template: str = "template0") -> str:
    """Create ``lantai_test_<random>`` from ``template``; its SQLAlchemy URL."""
    import psycopg

    name = f"lantai_test_{secrets.token_hex(6)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,)
        )
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\'')
    base = pg_server.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def _pg_drop(pg_server: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    url = _pg_create(pg_server)
    try:
        yield url
    finally:
        _pg_drop(pg_server, url)


@pytest.fixture(scope="session")
def pg_migrated_template(pg_server: str) -> Iterator[str]:
    """A database migrated to head once per session, the template of ``pg_migrated_database``."""
    from lantai.store.migrate import upgrade

    url = _pg_create(pg_server)
    try:
        upgrade(url)
        yield url.rsplit("/", 1)[1]
    finally:
        _pg_drop(pg_server, url)


@pytest.fixture
def pg_migrated_database(pg_server: str, pg_migrated_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database already at head (a copy of the template); dropped afterwards.

    PostgreSQL copies the template's files, so the schema is exactly what the migrations made;
    ``Instance.initialise`` then finds it at head and only writes the first event.
    """
    url = _pg_create(pg_server, pg_migrated_template)
    try:
        yield url
    finally:
        _pg_drop(pg_server, url)


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
        url = request.getfixturevalue("pg_migrated_database")
        s = make_settings(tmp_path / "home", database_url=url)
    inst = Instance.initialise(s)
    inst.catalogue.today = lambda: date(2026, 11, 21)
    yield inst
    inst.close()


@pytest.fixture
def operator() -> Actor:
    return Actor.operator()
