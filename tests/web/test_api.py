"""The JSON API: login, CSRF, catalogue round trip, error shape, headers, OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lantai.instance import Instance
from web_support import PASSWORD, login

FONDS = {
    "code": "Z109",
    "name": "某市人民政府办公室",
    "responsible": "某市人民政府办公室",
    "values": {"date": "1949-2024", "custody_history": "2010年进馆"},
}
ITEM = {
    "title": "关于印发2011年工作要点的通知",
    "responsible": "某市人民政府办公室",
    "date": "2011-03-05",
    "retention": "永久",
    "org_code": "BGS",
}


def test_login_failure_is_logged_and_generic(client: TestClient) -> None:
    r = client.post("/api/auth/login", json={"username": "archivist", "password": "wrong-password"})
    assert r.status_code == 401 and r.json()["error"] == "用户名或口令错误"
    r2 = client.post("/api/auth/login", json={"username": "ghost", "password": "x"})
    assert r2.json()["error"] == r.json()["error"]
    login(client, "auditor")
    fails = client.get("/api/audit/events", params={"action": "security:login:failed"}).json()[
        "items"
    ]
    assert {e["actor"] for e in fails} == {"archivist", "ghost"}


def test_lockout_after_repeated_failures(client: TestClient) -> None:
    for _ in range(5):
        client.post("/api/auth/login", json={"username": "reader", "password": "bad"})
    r = client.post("/api/auth/login", json={"username": "reader", "password": PASSWORD})
    assert r.status_code == 401 and "锁定" in r.json()["error"]


def test_cookie_writes_need_csrf_bearer_writes_do_not(client: TestClient) -> None:
    csrf = login(client, "archivist")
    assert client.post("/api/fonds", json=FONDS).status_code == 403
    r = client.post("/api/fonds", json=FONDS, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    token = client.post(
        "/api/auth/login", json={"username": "archivist", "password": PASSWORD}
    ).json()["token"]
    client.cookies.clear()
    r = client.post(
        "/api/fonds", json=FONDS | {"code": "Z110"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 201


def test_catalogue_round_trip(client: TestClient) -> None:
    csrf = login(client, "archivist")
    h = {"X-CSRF-Token": csrf}
    fonds = client.post("/api/fonds", json=FONDS, headers=h).json()
    series = client.post(
        f"/api/records/{fonds['id']}/children",
        json={"level": "series", "category": "WS", "values": {"title": "文书档案 2011年"}},
        headers=h,
    ).json()
    item = client.post(
        f"/api/records/{series['id']}/children", json={"level": "item", "values": ITEM}, headers=h
    )
    assert item.status_code == 201, item.text
    body = item.json()
    assert body["archival_code"] == "Z109-WS·2011-Y-BGS-0001" and body["retention_label"] == "永久"
    assert (
        client.get("/api/records/by-code", params={"code": body["archival_code"]}).json()["id"]
        == body["id"]
    )
    children = client.get(f"/api/records/{series['id']}/children").json()
    assert children["total"] == 1 and children["items"][0]["has_children"] is False
    upd = client.patch(
        f"/api/records/{body['id']}",
        json={"version": 1, "values": {"title": "关于印发2011年工作要点的通知（修订）"}},
        headers=h,
    )
    assert upd.status_code == 200 and upd.json()["version"] == 2
    stale = client.patch(
        f"/api/records/{body['id']}", json={"version": 1, "values": {"title": "x"}}, headers=h
    )
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    history = client.get(f"/api/records/{body['id']}/history").json()
    assert [e["action"] for e in history] == [
        "catalogue:record:updated",
        "catalogue:record:created",
    ]
    assert [a["id"] for a in client.get(f"/api/records/{body['id']}/ancestors").json()] == [
        fonds["id"],
        series["id"],
    ]


def test_validation_errors_have_one_shape(client: TestClient) -> None:
    csrf = login(client, "archivist")
    h = {"X-CSRF-Token": csrf}
    fonds = client.post("/api/fonds", json=FONDS, headers=h).json()
    series = client.post(
        f"/api/records/{fonds['id']}/children",
        json={"level": "series", "category": "WS", "values": {"title": "文书"}},
        headers=h,
    ).json()
    r = client.post(
        f"/api/records/{series['id']}/children",
        json={"level": "item", "values": ITEM | {"retention": "5年", "title": ""}},
        headers=h,
    )
    assert r.status_code == 422
    body = r.json()
    assert (
        set(body) == {"ok", "status", "code", "error", "errors"}
        and body["code"] == "validation_failed"
    )
    fields = {e["field"] for e in body["errors"]}
    assert {"保管期限", "题名"} <= fields
    assert all("rule" in e and "message" in e for e in body["errors"])
    r2 = client.post(
        f"/api/records/{series['id']}/children", json={"level": "nonsense", "values": {}}, headers=h
    )
    assert r2.status_code == 422 and set(r2.json()) == {"ok", "status", "code", "error", "errors"}
    r3 = client.get("/api/records/99999")
    assert r3.status_code == 404 and r3.json()["code"] == "not_found"


def test_security_headers_and_cookie_flags(client: TestClient) -> None:
    r = client.post("/api/auth/login", json={"username": "archivist", "password": PASSWORD})
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/browse")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert (
        page.headers["x-frame-options"] == "DENY"
        and page.headers["x-content-type-options"] == "nosniff"
    )
    assert page.headers["cache-control"] == "no-store"


def test_openapi_and_local_docs(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["info"]["title"].startswith("兰台")
    assert "/api/records/{record_id}/children" in spec["paths"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/api/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get("/api/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_logout_revokes_the_session(client: TestClient, web_instance: Instance) -> None:
    csrf = login(client, "reader")
    assert client.get("/api/auth/me").status_code == 200
    cookie = client.cookies.get("lantai_session")
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("lantai_session", cookie or "")
    assert client.get("/api/auth/me").status_code == 401


def test_users_api_enforces_sanyuan(client: TestClient) -> None:
    csrf = login(client, "admin")
    r = client.post(
        "/api/users",
        json={"username": "zhang", "display_name": "张三", "password": "Archive-Pass-2026"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201
    assert (
        client.put(
            "/api/users/zhang/roles", json={"roles": ["archivist"]}, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 403
    )
    client.cookies.clear()
    csrf = login(client, "secadmin")
    h = {"X-CSRF-Token": csrf}
    bad = client.put("/api/users/zhang/roles", json={"roles": ["sysadmin", "auditor"]}, headers=h)
    assert bad.status_code == 422 and "三员" in bad.json()["errors"][0]["rule"]
    mixed = client.put(
        "/api/users/zhang/roles", json={"roles": ["auditor", "archivist"]}, headers=h
    )
    assert mixed.status_code == 422
    assert (
        client.put("/api/users/zhang/roles", json={"roles": ["archivist"]}, headers=h).status_code
        == 200
    )
    assert client.put(
        "/api/users/secadmin/roles", json={"roles": ["secadmin", "archivist"]}, headers=h
    ).status_code in (403, 422)


def test_history_includes_the_batch_events_of_bulk_created_records(
    client: TestClient, web_instance: Instance
) -> None:
    from factories import create_fonds, create_series, item_values
    from lantai.archival import Level
    from lantai.catalogue.service import NewRecord
    from lantai.search.texts import add_texts
    from lantai.security import Actor

    op = Actor.operator()
    fonds = create_fonds(web_instance, op)
    series = create_series(web_instance, op, fonds.id, "文书档案 2011年")
    with web_instance.db.write() as s:
        made = web_instance.catalogue.create_records(
            s,
            op,
            [
                NewRecord(parent_id=series.id, level=Level.ITEM, values=item_values(), key=k)
                for k in ("a", "b")
            ],
            event_detail={"transfer": "T-1"},
        )
        add_texts(web_instance, op, [(made[1].id, "正文.txt", "extracted", "正文")], session=s)
    login(client, "archivist")
    first = client.get(f"/api/records/{made[0].id}/history").json()
    assert [e["action"] for e in first] == ["catalogue:records:created"]
    assert '"transfer": "T-1"' in first[0]["detail"]
    second = client.get(f"/api/records/{made[1].id}/history").json()
    assert [e["action"] for e in second] == [
        "catalogue:texts:added",
        "catalogue:records:created",
    ]
