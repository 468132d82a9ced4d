"""PostgreSQL side of backup and restore: ``pg_dump -Fc`` from an exported snapshot, ``pg_restore``.

The dump is taken from the snapshot of a REPEATABLE READ transaction that also computes the
backup's facts (:mod:`lantai.backup.facts`), so the manifest describes exactly the dumped data
while the server keeps running (``pg_dump --snapshot``). The client tools must be at least the
server's major version (a 15 server needs ``pg_dump`` 15 or later); that is checked first.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from lantai.errors import Conflict, IntegrityFailure

__all__ = [
    "check_client",
    "dump",
    "libpq_url",
    "restore",
    "scratch_database",
    "server_version",
]


def libpq_url(sqlalchemy_url: str, database: str | None = None) -> str:
    """The libpq URI (``postgresql://…``) of a SQLAlchemy URL, optionally for another database."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Conflict(f"找不到 PostgreSQL 客户端程序 {name}：请安装 postgresql-client")
    return found


def _major(text: str) -> int:
    m = re.search(r"(\d+)(?:\.\d+)?", text)
    if m is None:
        raise Conflict(f"无法识别版本号：{text}")
    return int(m.group(1))


def server_version(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SHOW server_version").scalar())


def check_client(tool: str, server: str) -> str:
    """The tool's version line; refuses a client older than the server (major version)."""
    out = subprocess.run(
        [_tool(tool), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if _major(out.rsplit(" ", 1)[-1]) < _major(server):
        raise Conflict(
            f"{tool} 版本（{out}）低于数据库服务器版本 {server}：请安装相同或更新的客户端"
        )
    return out


def _run(cmd: list[str], what: str) -> None:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise IntegrityFailure(
            f"{what}失败（退出码 {done.returncode}）：{done.stderr.strip()[:2000]}"
        )


def dump(url: str, snapshot: str, dest: Path) -> None:
    """``pg_dump -Fc`` of the database at ``url`` as of the exported ``snapshot``."""
    _run(
        [
            _tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--snapshot={snapshot}",
            f"--file={dest}",
            f"--dbname={libpq_url(url)}",
        ],
        "pg_dump 备份数据库",
    )


def restore(url: str, source: Path) -> None:
    """``pg_restore`` into the (empty) database at ``url``, in one transaction."""
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={libpq_url(url)}",
            str(source),
        ],
        "pg_restore 恢复数据库",
    )


@contextmanager
def scratch_database(engine: Engine) -> Iterator[str]:
    """A new empty database on the server of ``engine`` (SQLAlchemy URL); dropped afterwards."""
    base = str(engine.url.render_as_string(hide_password=False))
    admin = libpq_url(base, "postgres")
    name = f"lantai_verify_{secrets.token_hex(6)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
