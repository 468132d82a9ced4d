"""Helpers for web tests (import with ``from web_support import …``)."""

from __future__ import annotations

from fastapi.testclient import TestClient

__all__ = ["PASSWORD", "USERS", "login"]

PASSWORD = "Lantai-Test-2026!"
USERS = {
    "archivist": (("archivist",), "机密"),
    "reader": (("reader",), "公开"),
    "admin": (("sysadmin",), "公开"),
    "secadmin": (("secadmin",), "公开"),
    "auditor": (("auditor",), "公开"),
    "nobody": ((), "公开"),
}


def login(client: TestClient, username: str) -> str:
    """Log in through the API; returns the CSRF token for cookie-authenticated writes."""
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])
