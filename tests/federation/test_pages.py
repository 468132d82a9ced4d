"""跨馆出证 pages: the citizen's form and status on the portal, the staff queue and request pages
of both sides (受理: forward / refuse / notify / collect; 出证: candidates, issue, not found), the
deadline flags, the permissions and the strict CSP (no inline styles or scripts)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from federation.conftest import (
    ACCEPTING,
    APPLICANT_ID,
    HOLDING,
    OP,
    PASSWORD,
    Network,
    citizen,
    holdings,
)
from lantai.federation import livelihood as lh
from lantai.instance import Instance
from lantai.store.federation import LivelihoodRequest
from lantai.web.app import create_app
from web_support import PASSWORD as STAFF_PW
from web_support import USERS

PHONE = "13800138000"


def _staff(inst: Instance) -> None:
    with inst.db.write() as s:
        for name in ("archivist", "admin", "reader"):
            roles, clearance = USERS[name]
            inst.users.create(
                s,
                OP,
                username=name,
                display_name=f"{name}用户",
                password=STAFF_PW,
                roles=roles,
                clearance=clearance,
            )


@pytest.fixture
def apps(network: Network) -> Iterator[dict[str, Instance]]:
    a, b = network.nodes[ACCEPTING], network.nodes[HOLDING]
    for inst in (a, b):
        _staff(inst)
    citizen(a)
    yield {"a": a, "b": b}


def _client(inst: Instance, user: str, password: str = STAFF_PW) -> tuple[TestClient, str]:
    c = TestClient(create_app(inst), base_url="http://127.0.0.1")
    r = c.post("/api/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return c, str(r.json()["csrf_token"])


def _strict(html: str) -> None:
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def _ref(inst: Instance) -> str:
    with inst.db.read() as s:
        return str(
            s.scalars(select(LivelihoodRequest.ref).order_by(LivelihoodRequest.id)).all()[-1]
        )


def test_citizen_applies_on_the_portal_and_follows_the_request(
    network: Network, apps: dict[str, Instance]
) -> None:
    a, b = apps["a"], apps["b"]
    ids = holdings(b)
    web, csrf = _client(a, PHONE, PASSWORD)
    with web:
        page = web.get("/portal/livelihood")
        assert page.status_code == 200 and "提交跨馆查档申请" in page.text
        assert "杭州市档案馆（330001）" in page.text and "婚姻登记" in page.text
        assert 'href="/portal/livelihood"' in page.text  # portal navigation
        _strict(page.text)
        form = {
            "csrf_token": csrf,
            "holding_code": HOLDING,
            "record_type": "marriage",
            "id_number": APPLICANT_ID[:-1] + ("0" if APPLICANT_ID[-1] != "0" else "1"),
            "purpose": "办理房产继承公证",
        }
        r = web.post("/portal/livelihood", data=form)
        assert r.status_code == 400 and 'data-field="id_number"' in r.text
        assert "居民身份证号须与实名注册时的一致" in r.text and 'value="办理房产继承公证"' in r.text
        r = web.post("/portal/livelihood", data={**form, "id_number": APPLICANT_ID})
        assert r.status_code == 200 and "待受理馆审核" in r.text  # followed the 303
        ref = _ref(a)
        assert ref in r.text and "预计" in r.text
        # without the CSRF token nothing is submitted
        r = web.post("/portal/livelihood", data={**form, "csrf_token": "x"})
        assert r.status_code == 403

    staff_a, csrf_a = _client(a, "archivist")
    staff_b, csrf_b = _client(b, "archivist")
    with staff_a, staff_b:
        q = staff_a.get("/livelihood")
        assert q.status_code == 200 and ref in q.text and "受理馆" in q.text
        assert '<a href="/livelihood"' in q.text  # the NAV entry 跨馆出证
        _strict(q.text)
        d = staff_a.get(f"/livelihood/{ref}")
        assert 'id="act-forward"' in d.text and "剩 " in d.text
        _strict(d.text)
        r = staff_a.post(f"/livelihood/{ref}/refuse", data={"csrf_token": csrf_a, "reason": ""})
        assert r.status_code == 400 and "理由必填" in r.text
        r = staff_a.post(
            f"/livelihood/{ref}/forward", data={"csrf_token": csrf_a, "note": "核对无误"}
        )
        assert r.status_code == 200 and "已转出证馆" in r.text
        network.pump()
        assert "对方馆期限" in staff_a.get(f"/livelihood/{ref}").text

        # 出证馆: the candidates, then the certificate
        d = staff_b.get(f"/livelihood/{ref}")
        assert d.status_code == 200 and 'id="act-issue"' in d.text and "出证馆" in d.text
        assert f'value="{ids["own"]}"' in d.text and "身份证号、姓名" in d.text
        assert f'value="{ids["namesake"]}"' in d.text  # the same name: staff decide
        assert f'value="{ids["other"]}"' not in d.text  # not about the applicant
        _strict(d.text)
        r = staff_b.post(f"/livelihood/{ref}/issue", data={"csrf_token": csrf_b, "note": ""})
        assert r.status_code == 400 and 'data-field="record_ids"' in r.text
        r = staff_b.post(
            f"/livelihood/{ref}/issue",
            data={"csrf_token": csrf_b, "record_id": [str(ids["own"])], "note": "婚姻登记档案"},
        )
        assert r.status_code == 200 and "已出证" in r.text and 'id="certificate"' in r.text
        network.pump()

        d = staff_a.get(f"/livelihood/{ref}")
        assert 'id="act-notify"' in d.text and 'id="certificate"' in d.text
        r = staff_a.post(
            f"/livelihood/{ref}/notify", data={"csrf_token": csrf_a, "note": "已电话告知"}
        )
        assert r.status_code == 200 and 'id="act-collect"' in r.text
        timeline = r.text[r.text.index('id="timeline"') :]
        for label in ("待受理馆审核", "已转出证馆", "出证馆查档中", "已出证", "已告知申请人"):
            assert label in timeline

    web, _csrf = _client(a, PHONE, PASSWORD)
    with web:
        page = web.get("/portal/livelihood")
        assert (
            "已告知申请人" in page.text and f"/api/livelihood/mine/{ref}/certificate" in page.text
        )
        pdf = web.get(f"/api/livelihood/mine/{ref}/certificate")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert "已领取" in web.get("/portal/livelihood").text


def test_counter_collection_refusal_and_deadline_flags(
    network: Network, apps: dict[str, Instance]
) -> None:
    a = apps["a"]
    app = lh.Application(HOLDING, "婚姻登记", APPLICANT_ID, "办理公证")
    person = citizen(a)
    with a.db.write() as s:
        late = lh.submit(a, s, person, app).ref
        soon = lh.submit(a, s, person, app).ref
        refused = lh.submit(a, s, person, app).ref
    today = lh.today()
    with a.db.write() as s:
        lh.get_request(s, late).due_on = today - timedelta(days=10)
        lh.get_request(s, soon).due_on = today
    staff, csrf = _client(a, "archivist")
    with staff:
        q = staff.get("/livelihood")
        row = q.text[q.text.index(f'data-ref="{late}"') :]
        assert "逾期" in row[: row.index("</tr>")]
        row = q.text[q.text.index(f'data-ref="{soon}"') :]
        assert "即将到期" in row[: row.index("</tr>")]
        assert re.search(r'id="sum-overdue">1<', q.text) and re.search(r'id="sum-open">3<', q.text)
        r = staff.post(
            f"/livelihood/{refused}/refuse", data={"csrf_token": csrf, "reason": "不属民生档案范围"}
        )
        assert r.status_code == 200 and "不予受理" in r.text
        assert refused not in staff.get("/livelihood").text  # closed
        assert refused in staff.get("/livelihood?closed=true").text
        # a step of the other side is refused with the reason on the page
        r = staff.post(f"/livelihood/{late}/not-found", data={"csrf_token": csrf, "note": "x"})
        assert r.status_code == 409 and "应由出证馆办理" in r.text


def test_permissions(apps: dict[str, Instance]) -> None:
    a = apps["a"]
    person = citizen(a)
    with a.db.write() as s:
        ref = lh.submit(a, s, person, lh.Application(HOLDING, "婚姻登记", APPLICANT_ID, "x")).ref
    anon = TestClient(create_app(a), base_url="http://127.0.0.1")
    with anon:
        for path in ("/livelihood", f"/livelihood/{ref}", "/portal/livelihood"):
            r = anon.get(path, follow_redirects=False)
            assert r.status_code in (302, 303, 401), (path, r.status_code)
    for user in ("admin", "reader"):  # 系统管理员 and 查阅人员 do not process requests
        c, csrf = _client(a, user)
        with c:
            assert c.get("/livelihood").status_code == 403
            assert c.get(f"/livelihood/{ref}").status_code == 403
            r = c.post(f"/livelihood/{ref}/forward", data={"csrf_token": csrf})
            assert r.status_code == 403
            assert "跨馆出证" not in c.get("/search").text
    web, csrf = _client(a, PHONE, PASSWORD)
    with web:  # a citizen cannot open the staff pages; staff cannot use the citizen's form
        assert web.get("/livelihood").status_code == 403
        r = web.post(f"/livelihood/{ref}/forward", data={"csrf_token": csrf})
        assert r.status_code == 403
    staff, csrf = _client(a, "archivist")
    with staff:
        assert staff.get("/portal/livelihood").status_code == 403
        with a.db.read() as s:
            assert lh.get_request(s, ref).state == "submitted"
