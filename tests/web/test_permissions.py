"""Every route declares exactly one permission, and the permission is enforced."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from lantai.instance import Instance
from lantai.security import Perm
from lantai.web.app import ROUTERS, create_app
from lantai.web.deps import Requirement
from web_support import login

# Routes added by FastAPI itself: the OpenAPI document is public documentation.
BUILTIN = {"/api/openapi.json"}


def _requirements(dependant: Any) -> list[Requirement]:
    found = [dependant.call] if isinstance(dependant.call, Requirement) else []
    for sub in dependant.dependencies:
        found += _requirements(sub)
    return found


def _all_routes() -> list[APIRoute]:
    routes: list[APIRoute] = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute), f"{route} in {router.prefix} is not an APIRoute"
            routes.append(route)
    return routes


def test_every_route_declares_one_permission(instance: Instance) -> None:
    routes = _all_routes()
    for route in routes:
        reqs = _requirements(route.dependant)
        assert len(reqs) == 1, f"{route.methods} {route.path} declares {reqs}"
    assert len(routes) > 30
    # Nothing reaches the app except through ROUTERS, the static mounts and the OpenAPI document.
    app = create_app(instance)
    for r in app.routes:
        if isinstance(r, Mount):
            assert r.path in ("/static", "/api/docs-assets")
        elif isinstance(r, Route):
            assert r.path in BUILTIN, r.path


def test_public_routes_are_few() -> None:
    public = sorted(
        f"{sorted(r.methods)[0]} {r.path}"
        for r in _all_routes()
        if any(q.perm is Perm.PUBLIC for q in _requirements(r.dependant))
    )
    assert public == [
        "GET /",
        "GET /api/docs",
        "GET /api/health",
        # certificate verification (tests/certificates/test_web.py): this archive's public
        # signing keys, and a code lookup that shows minimal data (no ID number), rate-limited
        "GET /api/public/certificates/keys",
        "GET /api/public/certificates/{code}",
        # 跨馆协作: this node's identity and public keys (tests/federation/test_three_nodes.py)
        "GET /api/public/federation/node",
        # the published, masked 开放档案目录 (tests/publication/test_publication.py)
        "GET /api/public/open-catalogue/{level}.{fmt}",
        # finds published 开放 records only (tests/search/test_permissions.py, tests/publication)
        "GET /api/public/search",
        "GET /login",
        # OAI-PMH 2.0 (GET and POST): published, masked 开放 records only (tests/oai/test_provider.py)
        "GET /oai",
        # the public portal (tests/access): published 开放 records, or a citizen's live grant
        "GET /portal",
        "GET /portal/collections/{key}",
        "GET /portal/fonds",
        "GET /portal/login",
        "GET /portal/records/{record_id}",
        "GET /portal/records/{record_id}/pages/{n}.jpg",
        "GET /portal/register",
        "GET /portal/search",
        "GET /public/search",
        # the zh-CN verification page the certificate QR code opens (code or uploaded file)
        "GET /verify",
        "GET /verify/{code}",
        "POST /api/auth/login",
        # messages and queries from partner nodes: no session, every request is a signed
        # LANTAI-FED-MSG-1 message verified against the registry (tests/federation)
        "POST /api/federation/inbox",
        "POST /api/federation/search",
        # verify an uploaded certificate file: size-limited, rate-limited, nothing stored
        "POST /api/public/certificates/verify",
        # citizens' registration, rate-limited (tests/access/test_access.py)
        "POST /api/public/register",
        "POST /login",
        # OAI-PMH allows POST (form-encoded arguments) for the same verbs as GET /oai
        "POST /oai",
        "POST /portal/login",
        "POST /portal/register",
        "POST /verify",
    ]


def test_anonymous_gets_401_json_and_pages_redirect(client: TestClient) -> None:
    r = client.get("/api/fonds")
    assert r.status_code == 401
    assert r.json() == {
        "ok": False,
        "status": 401,
        "code": "authentication_required",
        "error": "请先登录",
        "errors": [],
    }
    r = client.get("/browse", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/browse"


def test_roles_get_exactly_their_permissions(client: TestClient) -> None:
    matrix = {
        "archivist": {
            "/api/fonds": 200,
            "/api/audit/events": 403,
            "/api/users": 403,
            "/api/config/code-tables": 200,
        },
        "reader": {
            "/api/fonds": 200,
            "/api/audit/events": 403,
            "/api/users": 403,
            "/api/config/code-tables": 403,
        },
        "admin": {
            "/api/fonds": 403,
            "/api/audit/events": 403,
            "/api/users": 200,
            "/api/config/code-tables": 200,
        },
        "secadmin": {"/api/fonds": 403, "/api/audit/events": 403, "/api/users": 200},
        "auditor": {"/api/fonds": 403, "/api/audit/events": 200, "/api/users": 200},
        "nobody": {"/api/fonds": 403, "/api/auth/me": 200},
    }
    for user, expect in matrix.items():
        client.cookies.clear()
        login(client, user)
        for path, status in expect.items():
            assert client.get(path).status_code == status, (user, path)


def test_denied_access_is_audited(client: TestClient) -> None:
    login(client, "reader")
    assert client.get("/api/audit/events").status_code == 403
    client.cookies.clear()
    login(client, "auditor")
    events = client.get("/api/audit/events", params={"action": "security:access:denied"}).json()[
        "items"
    ]
    assert events and events[0]["actor"] == "reader"
    assert "audit:log:read" in events[0]["detail"]
