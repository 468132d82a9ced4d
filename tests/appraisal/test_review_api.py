"""The review API end to end: batch → three rounds → unit opinions (XLSX) → apply → public search."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from lantai.instance import Instance
from lantai.store import UnitOpinion
from review_support import fill_unit_list, make_users, populate_1999, post_unit_opinions
from search_support import running_search, search_app, wait_indexed
from web_support import login


@pytest.fixture
def setup(any_instance: Instance) -> Iterator[tuple[TestClient, Instance, dict[str, int]]]:
    ids = populate_1999(any_instance)
    make_users(any_instance)
    app = search_app(any_instance)
    with TestClient(app, base_url="http://127.0.0.1") as c, running_search(app, any_instance):
        yield c, any_instance, ids


def _as(client: TestClient, user: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": login(client, user)}


def test_full_flow_to_public_search(setup: tuple[TestClient, Instance, dict[str, int]]) -> None:
    client, inst, ids = setup
    h = _as(client, "zhong")
    r = client.post(
        "/api/appraisal/batches",
        json={"source": "candidates", "fonds_code": "Z109", "year": 1999, "as_of": "2025-06-01"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    batch = r.json()
    bid = batch["id"]
    assert batch["item_count"] == 5 and batch["no_hits"] == 3
    assert [x["state"] for x in batch["rounds"]] == ["current", "pending", "pending"]
    # a reader can neither look nor decide
    hr = _as(client, "reader")
    assert client.get(f"/api/appraisal/batches/{bid}/items").status_code == 403
    r = client.post(f"/api/appraisal/batches/{bid}/decisions", json={"result": "开放"}, headers=hr)
    assert r.status_code == 403
    # 初审 by chu: no hits → 开放 in bulk; each remaining item one by one
    h = _as(client, "chu")
    r = client.post(
        f"/api/appraisal/batches/{bid}/decisions",
        json={"result": "开放", "filter": {"no_hits": True}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 3 and r.json()["batch"]["rounds"][0]["assignee"] == "chu"
    r = client.post(
        f"/api/appraisal/batches/{bid}/items/{ids['idcard']}/decision",
        json={"result": "延期开放", "reason": "个人信息"},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "复审日期"
    for key in ("idcard", "name"):
        r = client.post(
            f"/api/appraisal/batches/{bid}/items/{ids[key]}/decision",
            json={"result": "控制", "reason": "涉及个人信息", "basis": "《个人信息保护法》"},
            headers=h,
        )
        assert r.status_code == 200, r.text
    hz = _as(client, "zhong")
    assert client.post(f"/api/appraisal/batches/{bid}/advance", headers=hz).status_code == 200
    # 复审 by fu (assigned), everything as the 初审 said
    r = client.post(f"/api/appraisal/batches/{bid}/assign", json={"username": "fu"}, headers=hz)
    assert r.json()["rounds"][1]["assignee"] == "fu"
    h = _as(client, "fu")
    for flt, body in (
        ({"no_hits": True}, {"result": "开放"}),
        ({"no_hits": False}, {"result": "控制", "reason": "涉及个人信息", "basis": "个保法"}),
    ):
        r = client.post(
            f"/api/appraisal/batches/{bid}/decisions", json=body | {"filter": flt}, headers=h
        )
        assert r.status_code == 200, r.text
    hz = _as(client, "zhong")
    assert client.post(f"/api/appraisal/batches/{bid}/advance", headers=hz).status_code == 200
    # joint review: export the list, the unit fills it in; a bad file changes nothing
    r = client.get(f"/api/appraisal/batches/{bid}/unit-list.xlsx")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    items = client.get(f"/api/appraisal/batches/{bid}/items").json()["items"]
    code = {i["record_id"]: i["archival_code"] for i in items}
    good = {
        code[ids["clean1"]]: ("开放", ""),
        code[ids["clean2"]]: ("开放", ""),
        code[ids["file"]]: ("开放", ""),
        code[ids["idcard"]]: ("控制", "含身份证号"),
        code[ids["name"]]: ("控制", "涉及个人违纪"),
    }
    bad = dict(good)
    bad[code[ids["clean2"]]] = ("同意", "")
    bad_file = fill_unit_list(r.content, bad)
    wb = load_workbook(io.BytesIO(bad_file))
    ws = wb.active
    assert ws is not None
    ws.append([99, "Z109-WS-1999-Y-BGS-9999", "不在批次中", 1999, "开放", "无", "", "开放", ""])
    buf = io.BytesIO()
    wb.save(buf)
    r = post_unit_opinions(client, hz, bid, buf.getvalue())
    assert r.status_code == 422, r.text
    errs = r.json()["errors"]
    assert {(e["row"], e["field"]) for e in errs} == {(5, "单位意见（H列）"), (9, "档号（B列）")}
    with inst.db.read() as s:
        assert s.scalar(select(func.count()).select_from(UnitOpinion)) == 0
    blank = client.get(f"/api/appraisal/batches/{bid}/unit-list.xlsx").content
    r = post_unit_opinions(client, hz, bid, fill_unit_list(blank, good))
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 5 and r.json()["batch"]["unit_opinions"] == 5
    items = client.get(
        f"/api/appraisal/batches/{bid}/items", params={"record_id": ids["idcard"]}
    ).json()["items"]
    op = items[0]["unit_opinions"][0]
    assert (op["unit"], op["opinion"], op["reason"]) == ("某市人民政府办公室", "控制", "含身份证号")
    assert [d["round_name"] for d in items[0]["decisions"]] == ["初审", "复审"]
    # 终审 by zhong, then apply
    for flt, body in (
        ({"no_hits": True}, {"result": "开放"}),
        ({"no_hits": False}, {"result": "控制", "reason": "单位意见：控制", "basis": "个保法"}),
    ):
        r = client.post(
            f"/api/appraisal/batches/{bid}/decisions", json=body | {"filter": flt}, headers=hz
        )
        assert r.status_code == 200, r.text
    r = client.post(f"/api/appraisal/batches/{bid}/apply", headers=hz)
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == {"开放": 3, "控制": 2}
    assert r.json()["batch"]["state"] == "applied"
    # the index follows at once: staff search sees the new 开放标识; the public portal shows
    # no 控制 item — and the opened ones only once published (上网审查, publication package)
    wait_indexed(inst)
    _as(client, "zhong")
    staff = client.get("/api/search", params={"q": "开放标识:控制", "size": 100}).json()
    assert {x["id"] for x in staff["hits"]} == {ids["idcard"], ids["name"]}
    client.cookies.clear()
    assert client.get("/api/public/search", params={"q": "通知"}).json()["total"] == 0
    from lantai.appraisal.publication.service import publish_all_open
    from lantai.security import Actor

    published = publish_all_open(inst, Actor.operator(), reason="开放审核后上网公布")
    assert ids["idcard"] not in published and ids["clean1"] in published
    wait_indexed(inst)
    found = client.get("/api/public/search", params={"q": "通知", "size": 100}).json()
    assert {x["id"] for x in found["hits"]} == {ids["clean1"], ids["clean2"]}
    for q in ("材料", "违纪", "张三", "身份证号"):
        assert client.get("/api/public/search", params={"q": q}).json()["total"] == 0
    found = client.get("/api/public/search", params={"q": "城建检查", "size": 100}).json()
    assert {x["id"] for x in found["hits"]} == {ids["file"], ids["in_file"]}
    stats = client.get("/api/appraisal/stats", headers=_as(client, "zhong")).json()
    assert stats["total"]["opened_this_year"] == 3


def test_every_endpoint_requires_its_permission(
    setup: tuple[TestClient, Instance, dict[str, int]],
) -> None:
    client, _, _ = setup
    client.cookies.clear()
    assert client.get("/api/appraisal/batches").status_code == 401
    _as(client, "reader")
    for path in ("/api/appraisal/batches", "/api/appraisal/stats", "/api/appraisal/rules"):
        assert client.get(path).status_code == 403
    h = _as(client, "chu")  # appraiser: reads and decides, does not manage
    assert client.get("/api/appraisal/rules").json()["rounds"][0]["name"] == "初审"
    r = client.post("/api/appraisal/batches", json={"fonds_code": "Z109"}, headers=h)
    assert r.status_code == 403
