"""PostgreSQL connection loss while `lantai serve` answers requests: every request either succeeds
or fails with the generic zh-CN 5xx (no traceback, no SQL), and the app recovers without restart."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import PG_ADMIN_URL
from faults.harness import Lab
from lantai.security import Actor

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.slow]

PASSWORD = "Lantai-Test-2026!"


def _request(
    url: str, *, token: str | None = None, body: dict[str, Any] | None = None
) -> tuple[int, str]:
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _terminate(database: str) -> int:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


def _clean_failure(status: int, text: str) -> bool:
    """A failed request shows the generic zh-CN error: no exception text, no SQL."""
    lowered = text.lower()
    return (
        500 <= status < 600
        and "服务器内部错误" in text
        and "traceback" not in lowered
        and "psycopg" not in lowered
        and "select " not in lowered
    )


def test_connection_loss_fails_cleanly_and_recovers(tmp_path: Path, pg_database: str) -> None:
    database = pg_database.rsplit("/", 1)[1]
    lab = Lab(tmp_path, database_url=pg_database)
    lab.initialise()
    with lab.instance() as inst, inst.db.write() as s:
        inst.users.create(
            s,
            Actor.operator(),
            username="chen",
            display_name="陈工",
            password=PASSWORD,
            roles=("archivist",),
            clearance="机密",
        )
    with lab.serve() as (proc, url):
        deadline = time.monotonic() + 120
        while True:
            try:
                if _request(f"{url}/api/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.3)
        status, text = _request(
            f"{url}/api/auth/login", body={"username": "chen", "password": PASSWORD}
        )
        assert status == 200, text
        token = json.loads(text)["token"]
        me = f"{url}/api/auth/me"
        outcomes = {"ok": 0, "clean_5xx": 0}

        def tally(status: int, text: str) -> None:
            if status == 200:
                outcomes["ok"] += 1
            else:
                assert _clean_failure(status, text), (status, text[:500])
                outcomes["clean_5xx"] += 1

        # 1. Between requests: every pooled connection is killed; the next request must work
        #    (pool_pre_ping replaces the dead connection) or fail cleanly, the ones after work.
        for _ in range(5):
            assert _terminate(database) >= 1
            tally(*_request(me, token=token))
            for _ in range(3):
                status, text = _request(me, token=token)
                assert status == 200, text
        # 2. During requests: connections are killed while four clients keep asking.
        stop = threading.Event()
        errors: list[str] = []

        def client() -> None:
            while not stop.is_set():
                try:
                    tally(*_request(me, token=token))
                    tally(*_request(f"{url}/api/health"))
                except AssertionError as exc:
                    errors.append(str(exc))
                    return

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        kills = 0
        for _ in range(10):
            time.sleep(0.3)
            kills += _terminate(database)
        stop.set()
        for t in threads:
            t.join(60)
        assert errors == [], errors[:3]
        assert kills >= 10 and outcomes["ok"] > 0
        # 3. Recovered without a restart: the same process answers every request again.
        assert proc.poll() is None
        for _ in range(10):
            status, text = _request(me, token=token)
            assert status == 200, text
        status, text = _request(f"{url}/api/health")
        assert status == 200 and json.loads(text)["database"] == "postgresql", text
