"""Server-rendered pages: each renders for its role, forms post with CSRF and show errors inline."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from factories import create_fonds, create_series, item_values
from lantai.archival import Level
from lantai.instance import Instance
from lantai.security import Actor
from web_support import login


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def build(inst: Instance) -> tuple[int, int, int]:
    op = Actor.operator()
    fonds = create_fonds(inst, op)
    series = create_series(inst, op, fonds.id, "文书档案 2011年")
    with inst.db.write() as s:
        item = inst.catalogue.create_record(
            s, op, parent_id=series.id, level=Level.ITEM, values=item_values()
        )
    return fonds.id, series.id, item.id


def test_archivist_pages(client: TestClient, web_instance: Instance) -> None:
    fonds_id, series_id, item_id = build(web_instance)
    login(client, "archivist")
    for path in (
        "/browse",
        f"/records/{fonds_id}",
        f"/records/{item_id}",
        f"/records/{item_id}/edit",
        f"/records/{series_id}/new?level=item",
        "/import",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert '<html lang="zh-CN">' in r.text
    page = client.get(f"/records/{series_id}").text
    assert "Z109-WS·2011-Y-BGS-0001" in page and "共 1 条" in page


def test_edit_form_shows_errors_inline_and_saves(
    client: TestClient, web_instance: Instance
) -> None:
    _, _, item_id = build(web_instance)
    login(client, "archivist")
    form = client.get(f"/records/{item_id}/edit").text
    token = csrf_of(form)
    bad = client.post(
        f"/records/{item_id}/edit",
        data={"csrf_token": token, "version": "1", "f__title": "", "f__retention": "Y"},
    )
    assert bad.status_code == 422 and "必著项「题名」为空" in bad.text
    no_csrf = client.post(f"/records/{item_id}/edit", data={"version": "1", "f__title": "x"})
    assert no_csrf.status_code == 403
    ok = client.post(
        f"/records/{item_id}/edit",
        data={"csrf_token": token, "version": "1", "f__title": "新题名"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == f"/records/{item_id}?saved=1"
    assert "新题名" in client.get(f"/records/{item_id}").text


def test_new_child_form_assigns_a_code(client: TestClient, web_instance: Instance) -> None:
    _, series_id, _ = build(web_instance)
    login(client, "archivist")
    token = csrf_of(client.get(f"/records/{series_id}/new?level=item").text)
    values = {f"f__{k}": str(v) for k, v in item_values(title="新增的件").items()}
    r = client.post(f"/records/{series_id}/new?level=item", data={"csrf_token": token, **values})
    assert r.status_code == 200 and "Z109-WS·2011-Y-BGS-0002" in r.text and "已新增条目" in r.text


def test_auditor_and_admin_pages(client: TestClient, web_instance: Instance) -> None:
    login(client, "auditor")
    assert client.get("/", follow_redirects=False).headers["location"] == "/audit"
    assert client.get("/browse").status_code == 403
    audit = client.get("/audit")
    assert audit.status_code == 200 and "校验哈希链" in audit.text
    r = client.post("/audit/verify", data={"csrf_token": csrf_of(audit.text)})
    assert "校验通过" in r.text
    client.cookies.clear()
    login(client, "secadmin")
    users = client.get("/users")
    assert users.status_code == 200 and "分配角色" in users.text and "新建用户" not in users.text
    r = client.post(
        "/users/reader/roles",
        data={"csrf_token": csrf_of(users.text), "roles": ["auditor", "reader"]},
    )
    assert r.status_code == 422 and "三员分立" in r.text


def test_login_page_rejects_open_redirect(client: TestClient) -> None:
    page = client.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in page.text
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token
    r = client.post(
        "/login",
        data={
            "username": "archivist",
            "password": "Lantai-Test-2026!",
            "login_csrf": token.group(1),
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    wrong = client.post(
        "/login",
        data={
            "username": "archivist",
            "password": "Lantai-Test-2026!",
            "login_csrf": "forged",
            "next": "/",
        },
    )
    assert wrong.status_code == 403
