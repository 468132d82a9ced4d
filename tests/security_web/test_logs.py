"""No secret in the logs (issue 11 part 4), with every logger at DEBUG.

A login (API and form), a failed login, a catalogue write that carries an ID number, a logout and
a CLI user creation run with logging captured at DEBUG; no password, session token (or its stored
hash), CSRF token, audit key or ID number may appear in any record, its arguments or traceback.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lantai.cli.main import app as cli
from lantai.instance import Instance
from lantai.web.deps import SESSION_COOKIE
from web_support import PASSWORD

ID_NUMBER = "11010519491231002X"  # a 居民身份证号 (GB 11643 format, check digit X)
CLI_PASSWORD = "Cli-Secret-Pw-2026!"
WRONG_PASSWORD = "Wrong-Secret-Pw-2026!"


def _logged_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for r in records:
        parts.append(r.getMessage())
        parts.append(repr(r.args))
        if r.exc_info:
            parts.append(logging.Formatter().formatException(r.exc_info))
        if r.stack_info:
            parts.append(r.stack_info)
    return "\n".join(parts)


def test_no_secret_reaches_the_logs_at_debug(
    client: TestClient,
    web_instance: Instance,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # every logger, including those a library quietens by default (SQLAlchemy: WARNING)
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "uvicorn", "multipart"):
        caplog.set_level(logging.DEBUG, logger=name)
    secrets: dict[str, str] = {"password": PASSWORD, "wrong password": WRONG_PASSWORD}
    # failed then successful API login
    assert (
        client.post(
            "/api/auth/login", json={"username": "archivist", "password": WRONG_PASSWORD}
        ).status_code
        == 401
    )
    r = client.post("/api/auth/login", json={"username": "archivist", "password": PASSWORD})
    body = r.json()
    secrets["session token"] = body["token"]
    secrets["session id (stored hash)"] = hashlib.sha256(body["token"].encode()).hexdigest()
    secrets["CSRF token"] = body["csrf_token"]
    headers = {"X-CSRF-Token": body["csrf_token"]}
    # a catalogue write that carries an ID number
    fonds = {
        "code": "Z109",
        "name": f"某市社会保险档案（{ID_NUMBER}）",
        "responsible": "某市人力资源和社会保障局",
        "values": {
            "date": "1949-2024",
            "custody_history": f"2010年进馆，经办人身份证号{ID_NUMBER}",
        },
    }
    assert client.post("/api/fonds", json=fonds, headers=headers).status_code == 201
    # a write refused for its CSRF token, and one refused for its data (with the ID number)
    client.post("/api/fonds", json=fonds)
    client.post("/api/fonds", json=fonds | {"code": ID_NUMBER}, headers=headers)
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    # the login form
    page = client.get("/login")
    form_token = client.cookies.get("lantai_login_csrf")
    assert page.status_code == 200 and form_token
    secrets["login form token"] = form_token
    r = client.post(
        "/login",
        data={"username": "reader", "password": PASSWORD, "login_csrf": form_token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    secrets["page session token"] = client.cookies.get(SESSION_COOKIE) or ""
    # a CLI user creation, the password given as an option and at the prompt
    home: Path = web_instance.settings.resolved_home
    monkeypatch.setenv("LANTAI_HOME", str(home))
    monkeypatch.setenv("LANTAI_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("LANTAI_PASSWORD_MEMORY_KIB", "8192")
    runner = CliRunner()
    done = runner.invoke(
        cli, ["users", "create", "chen", "--name", "陈工", "--password", CLI_PASSWORD]
    )
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        cli,
        ["users", "create", "wang", "--name", "王工"],
        input=f"{CLI_PASSWORD}\n{CLI_PASSWORD}\n",
    )
    assert done.exit_code == 0, done.output
    assert CLI_PASSWORD not in done.output.replace("口令", "")
    secrets["CLI password"] = CLI_PASSWORD
    key = (home / "secrets" / "audit.key").read_bytes()
    secrets["audit key"] = key.decode("latin-1").strip()
    secrets["audit key (hex)"] = key.hex()
    secrets["ID number"] = ID_NUMBER

    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records), (
        "no SQL was logged: the capture does not work"
    )
    text = _logged_text(caplog.records)
    leaked = [what for what, value in secrets.items() if value and value in text]
    assert not leaked, f"in the logs: {leaked}"
