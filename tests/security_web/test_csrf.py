"""CSRF (issue 11 part 4): every state-changing route refuses a cookie session without the token.

The routes are enumerated from the application itself, so routes added later are covered. The
only unsafe routes without the check are the public ones listed in :data:`EXEMPT`, each with the
reason it is safe.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from lantai.instance import Instance
from lantai.security import Perm
from lantai.web.app import create_app
from lantai.web.deps import Requirement
from route_support import api_routes
from web_support import PASSWORD, login

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

# Unsafe routes that take no session (Perm.PUBLIC), so there is no ambient credential to abuse.
EXEMPT = {
    # Logging in creates the session; it only accepts a JSON body (a cross-site form cannot send
    # one, see test_cross_site_login_attempts_fail) and answers with the token in the body.
    "POST /api/auth/login": "login: no session yet; JSON only",
    # The login form carries its own double-submit token (lantai_login_csrf cookie = form field).
    "POST /login": "login form: own double-submit token (test_cross_site_login_attempts_fail)",
    # The public portal's reader accounts (issue 9): the forms carry their own double-submit token
    # (lantai_portal_csrf); the JSON registration takes no session and creates an account only.
    "POST /portal/login": "portal login form: own double-submit token",
    "POST /portal/register": "portal registration form: own double-submit token",
    "POST /api/public/register": "reader registration: no session; JSON only",
    # Read-only public services that answer the same for everybody and change nothing.
    "POST /oai": "OAI-PMH allows POST for harvesting requests; read-only",
    "POST /api/public/certificates/verify": "checks a certificate; read-only",
    "POST /verify": "certificate verification form; read-only",
    # Node-to-node (issue 9): each body is a LANTAI-FED-MSG-1 envelope signed by a partner's key,
    # verified against the registry with nonce and clock window; cookies are never consulted.
    "POST /api/federation/inbox": "signed node message; no session",
    "POST /api/federation/search": "signed node query; no session; read-only",
}


def _requirement(route: APIRoute) -> Requirement:
    def walk(dep: Any) -> list[Requirement]:
        found = [dep.call] if isinstance(dep.call, Requirement) else []
        for sub in dep.dependencies:
            found += walk(sub)
        return found

    reqs = walk(route.dependant)
    assert len(reqs) == 1, f"{route.path} declares {reqs}"
    return reqs[0]


def _unsafe_routes(app: FastAPI) -> list[tuple[str, str, Requirement]]:
    return [
        (m, path, _requirement(r))
        for path, r in api_routes(app)
        for m in sorted(r.methods & UNSAFE)
    ]


def _concrete(path: str) -> str:
    """A request path for a route template: every parameter becomes ``1``."""
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.fixture
def app(web_instance: Instance) -> FastAPI:
    return create_app(web_instance)


def test_every_state_changing_route_needs_the_csrf_token(app: FastAPI) -> None:
    routes = _unsafe_routes(app)
    assert len(routes) > 40
    public = {f"{m} {p}" for m, p, req in routes if req.perm is Perm.PUBLIC}
    assert public == set(EXEMPT), "a public unsafe route must be listed in EXEMPT with a reason"
    with TestClient(app, base_url="http://127.0.0.1") as client:
        csrf = login(client, "archivist")
        missed = []
        for method, path, req in routes:
            if req.perm is Perm.PUBLIC:
                continue
            url = _concrete(path)
            for headers in ({}, {"X-CSRF-Token": "forged-" + csrf[7:]}):
                r = client.request(method, url, headers=headers, follow_redirects=False)
                body = (
                    r.json()
                    if r.headers.get("content-type", "").startswith("application/json")
                    else {}
                )
                if r.status_code != 403 or "CSRF" not in (body.get("error") or r.text):
                    missed.append(f"{method} {path} {headers and 'forged'}: {r.status_code}")
            # with the right token the CSRF check passes (whatever the route then says)
            r = client.request(method, url, headers={"X-CSRF-Token": csrf})
            assert "CSRF" not in r.text, f"{method} {path} refused a valid token"
            if client.get("/api/auth/me").status_code == 401:  # that was a logout
                csrf = login(client, "archivist")
        assert not missed, "\n".join(missed)


def test_pages_post_refuse_a_cookie_session_without_the_form_field(client: TestClient) -> None:
    login(client, "reader")
    r = client.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post("/logout", data={"csrf_token": "x" * 32}, follow_redirects=False)
    assert r.status_code == 403


def test_bearer_requests_need_no_csrf_token_but_a_bad_bearer_gets_nothing(
    client: TestClient,
) -> None:
    token = client.post(
        "/api/auth/login", json={"username": "archivist", "password": PASSWORD}
    ).json()["token"]
    client.cookies.clear()  # a bearer token is not sent by a browser on its own
    r = client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204
    r = client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_cross_site_login_attempts_fail(client: TestClient) -> None:
    # a cross-site form can only send form or text/plain bodies, never JSON
    r = client.post(
        "/api/auth/login",
        content=f'{{"username": "reader", "password": "{PASSWORD}"}}',
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 422 and "set-cookie" not in r.headers
    r = client.post(
        "/api/auth/login",
        data={"username": "reader", "password": PASSWORD},
    )
    assert r.status_code == 422 and "set-cookie" not in r.headers
    # the login form without the double-submit cookie, or with a mismatching one
    client.cookies.clear()
    form = {"username": "reader", "password": PASSWORD, "login_csrf": "a" * 32, "next": "/"}
    r = client.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 403 and "lantai_session" not in r.headers.get("set-cookie", "")
    client.cookies.set("lantai_login_csrf", "b" * 32)
    r = client.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 403 and "lantai_session" not in r.headers.get("set-cookie", "")
