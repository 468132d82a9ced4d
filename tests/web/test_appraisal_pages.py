"""开放审核 and 上网审查 pages: render for the archivist, 403 without the permission, navigation
entries only with it, forms create batches and record decisions (with CSRF), errors inline."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from appraisal_web_support import ID_NUMBER, TEXT_WITH_ID, build_batch
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import PublicationItem, PublishedRecord, Record, ReviewBatch
from web_support import PASSWORD, login


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def nav_of(html: str) -> str:
    m = re.search(r'<nav class="mainnav".*?</nav>', html, re.S)
    assert m
    return m.group(0)


def test_archivist_sees_list_stats_and_workbench(
    client: TestClient, web_instance: Instance
) -> None:
    b = build_batch(web_instance)
    login(client, "archivist")
    page = client.get("/appraisal")
    assert page.status_code == 200
    html = page.text
    assert 'href="/appraisal"' in nav_of(html) and 'href="/publication"' in nav_of(html)
    assert "开放统计" in html and 'id="open-rate"' in html
    # the batch with its progress per round (0 of 4 decided in each round)
    row = re.search(rf'<tr data-batch-id="{b.batch_id}">.*?</tr>', html, re.S)
    assert row is not None
    assert "初审" in row.group(0) and "复审" in row.group(0) and "终审" in row.group(0)
    assert "0/4" in row.group(0) and "Z109" in row.group(0) and "1999" in row.group(0)
    assert "审核中" in row.group(0) and "当前：初审" in row.group(0)

    wb = client.get(f"/appraisal/batches/{b.batch_id}")
    assert wb.status_code == 200
    assert f'data-batch-id="{b.batch_id}"' in wb.text
    assert 'src="/static/js/appraisal.js"' in wb.text and "<kbd>o</kbd>" in wb.text
    assert f"/api/appraisal/batches/{b.batch_id}/unit-list.xlsx" in wb.text
    assert 'id="btn-apply"' in wb.text and 'id="bulk-nohits"' in wb.text
    # no inline script or handler (strict CSP)
    assert not re.search(r"<script>(?!</script>)|\son[a-z]+=", wb.text)
    assert client.get("/static/js/appraisal.js").status_code == 200
    assert client.get("/static/css/appraisal.css").status_code == 200
    assert client.get("/appraisal/batches/999").status_code == 404


def test_item_source_gives_the_text_the_hits_point_into(
    client: TestClient, web_instance: Instance
) -> None:
    b = build_batch(web_instance)
    login(client, "archivist")
    items = client.get(f"/api/appraisal/batches/{b.batch_id}/items?no_hits=false").json()
    assert [i["record_id"] for i in items["items"]] == [b.with_id]
    hit = next(
        h for h in items["items"][0]["screening"]["hits"] if h["rule_id"] == "personal-id-card"
    )
    src = client.get(f"/api/appraisal/batches/{b.batch_id}/items/{b.with_id}/source")
    assert src.status_code == 200
    (rec,) = src.json()["records"]
    (text,) = rec["texts"]
    assert text["part"] == "正文" and text["text"] == TEXT_WITH_ID and not text["truncated"]
    loc = hit["location"]
    assert loc["source"] == "text" and loc["name"] == "正文"
    assert text["text"][loc["start"] : loc["end"]] == ID_NUMBER
    assert any(v["key"] == "title" and v["label"] == "题名" for v in rec["values"])
    # not in the batch → 404; a user without the permission → 403
    fonds_item = client.get(f"/api/appraisal/batches/{b.batch_id}/items/{b.fonds_id}/source")
    assert fonds_item.status_code == 404
    client.cookies.clear()
    login(client, "reader")
    r = client.get(f"/api/appraisal/batches/{b.batch_id}/items/{b.with_id}/source")
    assert r.status_code == 403


def test_reader_gets_403_and_no_nav_entries(client: TestClient, web_instance: Instance) -> None:
    b = build_batch(web_instance)
    login(client, "reader")
    for path in ("/appraisal", f"/appraisal/batches/{b.batch_id}", "/publication"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "权限" in r.text
    nav = nav_of(client.get("/browse").text)
    assert "/appraisal" not in nav and "/publication" not in nav and "开放审核" not in nav


def test_appraiser_sees_workbench_without_manage_controls(
    client: TestClient, web_instance: Instance
) -> None:
    b = build_batch(web_instance)
    with web_instance.db.write() as s:
        web_instance.users.create(
            s,
            Actor.operator(),
            username="chu",
            display_name="初审员",
            password=PASSWORD,
            roles=("appraiser",),
            clearance="机密",
        )
    login(client, "chu")
    html = client.get("/appraisal").text
    nav = nav_of(html)
    assert "/appraisal" in nav and "/publication" not in nav
    assert 'id="batch-form"' not in html  # making batches needs appraisal:review:manage
    wb = client.get(f"/appraisal/batches/{b.batch_id}").text
    assert 'id="btn-claim"' in wb and 'id="bulk-nohits"' in wb
    assert 'id="btn-apply"' not in wb and 'id="unit-form"' not in wb
    assert client.get("/publication").status_code == 403


def test_create_batch_from_candidates_form(client: TestClient, web_instance: Instance) -> None:
    b = build_batch(web_instance)
    login(client, "archivist")
    html = client.get("/appraisal").text
    assert 'id="no-candidates"' in html  # everything due is in the batch already
    token = csrf_of(html)
    # no fonds: error shown inline, nothing created
    r = client.post("/appraisal", data={"csrf_token": token, "fonds_id": ""})
    assert r.status_code == 422 and "须选择全宗" in r.text
    # a year with no candidates: the service's message
    r = client.post(
        "/appraisal", data={"csrf_token": token, "fonds_id": str(b.fonds_id), "year": "2020"}
    )
    assert r.status_code >= 400 and 'id="appraisal-error"' in r.text
    # without CSRF: refused
    r = client.post("/appraisal", data={"fonds_id": str(b.fonds_id)})
    assert r.status_code == 403
    with web_instance.db.read() as s:
        assert s.scalar(select(ReviewBatch.id).where(ReviewBatch.id != b.batch_id)) is None


def _approve_flow(client: TestClient, web_instance: Instance) -> tuple[int, list[int]]:
    """Open two clean items through the API (three rounds, unit opinion, apply)."""
    b = build_batch(web_instance)
    from review_support import fill_unit_list, post_unit_opinions

    with web_instance.db.write() as s:
        for name, roles in (("chu", "appraiser"), ("fu", "appraiser"), ("zhong", "archivist")):
            web_instance.users.create(
                s,
                Actor.operator(),
                username=name,
                display_name=name,
                password=PASSWORD,
                roles=(roles,),
                clearance="机密",
            )
    api = f"/api/appraisal/batches/{b.batch_id}"
    for who, rnd in (("chu", "first"), ("fu", "second")):
        h = {"X-CSRF-Token": login(client, who)}
        r = client.post(
            api + "/decisions", json={"result": "开放", "filter": {"no_hits": True}}, headers=h
        )
        assert r.status_code == 200, r.text
        r = client.post(
            api + "/decisions",
            json={"result": "控制", "reason": "含个人信息", "filter": {"no_hits": False}},
            headers=h,
        )
        assert r.status_code == 200, r.text
        if rnd == "first":
            h2 = {"X-CSRF-Token": login(client, "zhong")}
            assert client.post(api + "/advance", headers=h2).status_code == 200
    h = {"X-CSRF-Token": login(client, "zhong")}
    assert client.post(api + "/advance", headers=h).status_code == 200
    with web_instance.db.read() as s:
        codes = {
            str(r.archival_code): "开放" if r.id in b.clean else "控制"
            for r in s.scalars(select(Record).where(Record.id.in_([*b.clean, b.with_id])))
        }
    data = client.get(api + "/unit-list.xlsx", headers=h).content
    filled = fill_unit_list(
        data, {c: (v, "" if v == "开放" else "个人隐私") for c, v in codes.items()}
    )
    assert post_unit_opinions(client, h, b.batch_id, filled).status_code == 200
    # 终审 by zhong (archivist; did not decide earlier rounds)
    for flt, result, reason in (
        ({"no_hits": True}, "开放", ""),
        ({"no_hits": False}, "控制", "个人隐私"),
    ):
        r = client.post(
            api + "/decisions", json={"result": result, "reason": reason, "filter": flt}, headers=h
        )
        assert r.status_code == 200, r.text
    assert client.post(api + "/apply", headers=h).status_code == 200
    return b.fonds_id, list(b.clean)


def test_publication_pages_create_approve_reject(
    client: TestClient, web_instance: Instance
) -> None:
    _fonds_id, clean = _approve_flow(client, web_instance)
    login(client, "archivist")
    html = client.get("/publication").text
    assert (
        "/api/public/open-catalogue/file.xlsx" in html
        and "/api/public/open-catalogue/item.pdf" in html
    )
    token = csrf_of(html)
    r = client.post("/publication", data={"csrf_token": token, "title": "", "fonds": "Z109"})
    assert r.status_code == 422 and 'id="publication-error"' in r.text
    r = client.post(
        "/publication",
        data={"csrf_token": token, "title": "Z109 1999年上网审查", "fonds": "Z109", "year": "1999"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    url = r.headers["location"]
    page = client.get(url).text
    for rid in clean:
        assert f'data-record-id="{rid}" data-decision="pending"' in page
    # reject without a reason: the service's message, nothing decided
    r = client.post(
        url + "/decisions",
        data={
            "csrf_token": token,
            "decision": "reject",
            "scope": "selected",
            "record_id": [str(clean[0])],
        },
    )
    assert r.status_code == 422 and "理由" in r.text
    r = client.post(
        url + "/decisions",
        data={
            "csrf_token": token,
            "decision": "reject",
            "scope": "selected",
            "record_id": [str(clean[0])],
            "reason": "涉及在世人员，暂不上网",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        url + "/decisions",
        data={"csrf_token": token, "decision": "approve", "scope": "all"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "已准予上网：2 条" in r.text
    with web_instance.db.read() as s:
        decided = dict(s.execute(select(PublicationItem.record_id, PublicationItem.decision)).all())
        published = set(s.scalars(select(PublishedRecord.record_id)))
    assert decided == {clean[0]: "rejected", clean[1]: "approved", clean[2]: "approved"}
    assert published == {clean[1], clean[2]}
    # take one off the portal again (reason required)
    r = client.post(
        url + "/unpublish",
        data={"csrf_token": token, "record_id": [str(clean[1])], "reason": "单位要求"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "已撤下公布：1 条" in r.text
    assert client.get("/api/public/open-catalogue/item.xlsx").status_code == 200
