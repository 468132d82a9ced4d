"""开放审核 end to end, as an archive does it: a 1999 fonds reaches its 25 years, goes through
candidates → machine screening → 初审 / 复审 / 终审 → the unit's joint opinion → apply → 上网审查,
and the public then sees exactly the opened items, with personal data masked, and the 控制 items
nowhere: not in hits, totals, facets, the open catalogue download, the OAI-PMH sets, nor behind
any record or file URL.

Everything goes through the HTTP API as the three reviewers and the anonymous public would use it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from lantai.appraisal.candidates import find_candidates, load_policy
from lantai.instance import Instance
from lantai.search import add_text
from lantai.store import Record
from review_support import OP, fill_unit_list, make_users, populate_1999, post_unit_opinions
from search_support import running_search, search_app, wait_indexed
from web_support import login

AS_OF = "2025-06-01"
PHONE = "13912345678"
# The 1999 notice names its contact person's mobile number: the reviewers open it anyway
# (a routine notice), and publication must mask the number.
CLEAN_TEXT = f"各街道：请于三月底前完成城区绿化工作。联系人电话{PHONE}。某市人民政府办公室"
NAME_TEXT = "经查，张三在任职期间违反财经纪律，给予党内警告处分。"


@pytest.fixture
def archive(any_instance: Instance) -> Iterator[tuple[TestClient, Instance, dict[str, int]]]:
    inst = any_instance
    ids = populate_1999(inst)
    add_text(inst, OP, ids["clean1"], "正文", "ocr", CLEAN_TEXT)
    add_text(inst, OP, ids["name"], "正文", "ocr", NAME_TEXT)
    make_users(inst)
    app = search_app(inst)
    with TestClient(app, base_url="http://127.0.0.1") as c, running_search(app, inst):
        yield c, inst, ids


def _as(client: TestClient, user: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": login(client, user)}


def _decide_all(
    client: TestClient, h: dict[str, str], bid: int, ids: dict[str, int], round_name: str
) -> None:
    """One round: bulk-open the items without hits, then decide the others one by one."""
    r = client.post(
        f"/api/appraisal/batches/{bid}/decisions",
        json={"result": "开放", "filter": {"no_hits": True}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/appraisal/batches/{bid}/items/{ids['clean1']}/decision",
        json={
            "result": "开放",
            "reason": f"{round_name}：例行工作通知，联系电话上网时遮蔽",
            "basis": "《档案法》第二十七条",
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    for key in ("idcard", "name"):
        r = client.post(
            f"/api/appraisal/batches/{bid}/items/{ids[key]}/decision",
            json={"result": "控制", "reason": "涉及个人信息", "basis": "《个人信息保护法》"},
            headers=h,
        )
        assert r.status_code == 200, r.text


def test_a_1999_fonds_from_candidates_to_the_public_portal(
    archive: tuple[TestClient, Instance, dict[str, int]],
) -> None:
    client, inst, ids = archive
    opened = {ids["clean1"], ids["clean2"], ids["file"], ids["in_file"]}
    controlled = {ids["idcard"], ids["name"]}

    # 1. candidates: the 1999 review units are due in 2025, the 2005 item is not
    with inst.db.read() as s:
        report = find_candidates(
            s, load_policy(config_dir=inst.settings.resolved_config_dir), today=date(2025, 6, 1)
        )
    due = {c.record_id for c in report.candidates}
    assert due == {ids[k] for k in ("clean1", "clean2", "idcard", "name", "file")}

    # 2. a batch from the candidates, screened at creation: where and why for every hit
    hz = _as(client, "zhong")
    r = client.post(
        "/api/appraisal/batches",
        json={"source": "candidates", "fonds_code": "Z109", "year": 1999, "as_of": AS_OF},
        headers=hz,
    )
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    items = client.get(f"/api/appraisal/batches/{bid}/items", params={"limit": 100}).json()
    by_id = {i["record_id"]: i for i in items["items"]}
    assert set(by_id) == due
    hits = {
        rid: {h["rule_id"] for h in i["screening"]["hits"]}
        for rid, i in by_id.items()
        if i["screening"]["hits"]
    }
    assert hits[ids["idcard"]] >= {"personal-id-card"}
    assert hits[ids["clean1"]] >= {"personal-mobile"}
    assert "name-discipline" in hits[ids["name"]]
    assert ids["clean2"] not in hits and ids["file"] not in hits
    phone_hit = next(
        h for h in by_id[ids["clean1"]]["screening"]["hits"] if h["rule_id"] == "personal-mobile"
    )
    where = phone_hit["location"]
    assert (where["source"], where["label"]) == ("text", "正文")
    assert CLEAN_TEXT[where["start"] : where["end"]] == PHONE

    # 3. 初审 (chu) → 复审 (fu) → joint review with the unit → 终审 (zhong) → apply
    _decide_all(client, _as(client, "chu"), bid, ids, "初审")
    assert client.post(
        f"/api/appraisal/batches/{bid}/advance", headers=_as(client, "zhong")
    ).is_success
    _decide_all(client, _as(client, "fu"), bid, ids, "复审")
    hz = _as(client, "zhong")
    assert client.post(f"/api/appraisal/batches/{bid}/advance", headers=hz).is_success
    blank = client.get(f"/api/appraisal/batches/{bid}/unit-list.xlsx").content
    code = {rid: i["archival_code"] for rid, i in by_id.items()}
    opinions = {code[rid]: ("开放", "") for rid in due - controlled}
    opinions |= {code[rid]: ("控制", "涉及个人") for rid in controlled}
    r = post_unit_opinions(client, hz, bid, fill_unit_list(blank, opinions))
    assert r.status_code == 200 and r.json()["imported"] == 5, r.text
    _decide_all(client, hz, bid, ids, "终审")
    r = client.post(f"/api/appraisal/batches/{bid}/apply", headers=hz)
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == {"开放": 3, "控制": 2}

    # 4. opened is not yet public: nothing before 上网审查
    wait_indexed(inst)
    client.cookies.clear()
    assert client.get("/api/public/search", params={"q": "通知"}).json()["total"] == 0

    # 5. 上网审查: a 控制 item cannot even be put in a publication batch; the opened ones are
    hz = _as(client, "zhong")
    r = client.post(
        "/api/publication/batches",
        json={"title": "1999年开放档案", "record_ids": [ids["name"]]},
        headers=hz,
    )
    assert r.status_code == 422 and "控制" in r.text
    r = client.post(
        "/api/publication/batches",
        json={"title": "1999年开放档案", "fonds": "Z109", "year": 1999},
        headers=hz,
    )
    assert r.status_code == 201, r.text
    pub = r.json()
    assert {i["record_id"] for i in pub["items"]} == opened
    r = client.post(
        f"/api/publication/batches/{pub['id']}/decisions", json={"decision": "approve"}, headers=hz
    )
    assert r.status_code == 200, r.text
    wait_indexed(inst)

    # 6. the public portal: exactly the opened items, masked; 控制 nowhere
    client.cookies.clear()
    res = client.get("/api/public/search", params={"q": "年度:1999", "size": 100}).json()
    found = {h["id"] for h in res["hits"]}
    assert res["total"] == len(opened)
    years = {v["value"]: v["count"] for v in res["facets"]["year"]}
    assert years == {"1999": len(opened)}
    for q in ("通知", "城建检查", "绿化"):
        found |= {
            h["id"]
            for h in client.get("/api/public/search", params={"q": q, "size": 100}).json()["hits"]
        }
    assert found == opened
    for q in ("材料", "违纪", "张三", "处分", "身份证号", PHONE, "110101199003074514"):
        res = client.get("/api/public/search", params={"q": q}).json()
        assert res["total"] == 0, q
        assert all(v["count"] == 0 for f in res["facets"].values() for v in f), q
    res = client.get("/api/public/search", params={"q": "绿化"}).json()
    assert [h["id"] for h in res["hits"]] == [ids["clean1"]]
    shown = "".join(seg["text"] for segs in res["hits"][0]["highlights"].values() for seg in segs)
    assert "联系人电话" in shown and PHONE not in shown and "139" in shown

    # the downloadable open catalogue (文件级) lists exactly the opened 件
    r = client.get("/api/public/open-catalogue/item.xlsx")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    text = "\n".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if c)
    with inst.db.read() as s:
        codes = {r.id: str(r.archival_code) for r in s.scalars(select(Record))}
    for rid in opened - {ids["file"]}:
        assert codes[rid] in text
    for rid in controlled:
        assert codes[rid] not in text
    assert "违纪" not in text and "身份证号" not in text

    # the OAI-PMH set of the open catalogue: the opened records, nothing else
    hz = _as(client, "zhong")
    members = client.get("/api/publication/sets/open/members").json()
    assert {m["record_id"] for m in members if not m["deleted"]} == opened
    fonds_members = client.get("/api/publication/sets/open:fonds:Z109/members").json()
    assert {m["record_id"] for m in fonds_members} == opened

    # no public URL leads to a 控制 record (images and files are served to staff only; the
    # public viewer comes with the access issue, through published access copies)
    client.cookies.clear()
    for rid in controlled:
        paths = ("", "/history", "/children")
        for path in [f"/api/records/{rid}{p}" for p in paths] + [f"/records/{rid}"]:
            assert client.get(path, follow_redirects=False).status_code in (302, 303, 401, 403)

    # statistics: three review units opened this year
    stats = client.get("/api/appraisal/stats", headers=_as(client, "zhong")).json()
    assert stats["total"]["opened_this_year"] == 3
    # the dashboard counts records (the 件 inside the opened 案卷 too) and drills down to them
    figures = {f["key"]: f for f in client.get("/api/dashboard").json()["figures"]}
    assert figures["open.this_year"]["value"] == len(opened)
    drill = client.get("/api/dashboard/drill/open.this_year", params={"limit": 50}).json()
    assert {r["id"] for r in drill["items"]} == opened
