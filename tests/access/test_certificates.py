"""Certificates for citizens' requests: approving a 出具证明 / 复制 request issues exactly one
certificate in the same transaction, linked to the request, logged in the 利用登记; the citizen
downloads it from 我的申请 (only their own), and it verifies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from access.conftest import Catalogue, id_number
from lantai.access.certify import pages_by_record, request_ref
from lantai.access.uselog import annual_figures
from lantai.certificates import Verdict, verify_file
from lantai.errors import InputError
from lantai.instance import Instance
from lantai.store import AccessRequest, Record, UseLog
from lantai.store.certificates import Certificate
from web_support import login

CITIZEN_PW = "Citizen-Pass-2026!"


def _citizen(client: TestClient, phone: str, body: str, name: str = "王小明") -> str:
    r = client.post(
        "/api/public/register",
        json={
            "real_name": name,
            "id_number": id_number(body),
            "phone": phone,
            "password": CITIZEN_PW,
        },
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/auth/login", json={"username": phone, "password": CITIZEN_PW})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def _apply(client: TestClient, csrf: str, kind: str, code: str, pages: str = "") -> int:
    r = client.post(
        "/api/access/mine/requests",
        json={
            "kind": kind,
            "purpose": "权益维护",
            "description": "证明出土情况报告存于本馆",
            "archival_codes": [code],
            "pages": pages,
        },
        headers={"x-csrf-token": csrf},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _code(inst: Instance, record_id: int) -> str:
    with inst.db.read() as s:
        rec = s.get(Record, record_id)
        assert rec is not None and rec.archival_code
        return rec.archival_code


def _decide(client: TestClient, req_id: int, action: str, **body: object) -> Any:
    client.cookies.clear()
    csrf = login(client, "archivist")
    r = client.post(
        f"/api/access/requests/{req_id}/{action}", json=body, headers={"x-csrf-token": csrf}
    )
    client.cookies.clear()
    return r


def _certificates(inst: Instance) -> list[Certificate]:
    with inst.db.read() as s:
        return list(s.scalars(select(Certificate).order_by(Certificate.id)))


def test_approval_issues_exactly_one_certificate_logged_and_downloadable(
    client: TestClient, staffed: Instance, catalogue: Catalogue
) -> None:
    code = _code(staffed, catalogue.published)
    csrf = _citizen(client, "13800138000", "11010519800101123")
    req_id = _apply(client, csrf, "出具证明", code, pages="1")
    assert _certificates(staffed) == []  # nothing before approval
    r = _decide(client, req_id, "approve", record_ids=[catalogue.published], reason="同意出证")
    assert r.status_code == 200, r.text
    cert_code = r.json()["certificate_code"]

    certs = _certificates(staffed)
    assert [c.code for c in certs] == [cert_code]
    cert = certs[0]
    with staffed.db.read() as s:
        req = s.get(AccessRequest, req_id)
        assert req is not None and req.certificate_code == cert_code
        assert cert.request_ref == request_ref(req)
        uses = list(s.scalars(select(UseLog).where(UseLog.request_id == req_id)))
        year = datetime.now(UTC).year
        figures = annual_figures(s, year, [135, 139, 142])
    assert cert.kind == "certificate" and cert.purpose == "权益维护"
    assert cert.applicant_name == "王小明" and cert.applicant_id_masked.startswith("110***")
    assert cert.citations == [
        {
            "record_id": catalogue.published,
            "archival_code": code,
            "title": "关于青铜鼎出土情况的报告",
            "pages": "1",
            "page_images": 0,
        }
    ]
    assert [(u.kind, u.record_id, u.purpose, u.channel, u.user_type) for u in uses] == [
        ("certificate", catalogue.published, "权益维护", "网上", "个人")
    ]
    assert figures == {135: 1, 139: 1, 142: 1}

    # re-approval (API and page) is refused and issues nothing more
    r = _decide(client, req_id, "approve", record_ids=[catalogue.published])
    assert r.status_code == 409
    client.cookies.clear()
    csrf_staff = login(client, "archivist")
    r2 = client.post(
        f"/access/requests/{req_id}/decide",
        data={
            "decision": "approve",
            "record_ids": str(catalogue.published),
            "csrf_token": csrf_staff,
        },
    )
    assert r2.status_code == 409 and "已处理" in r2.text
    assert "证明 <code>" in client.get("/access?status=approved").text
    client.cookies.clear()
    assert len(_certificates(staffed)) == 1
    with staffed.db.read() as s:
        assert s.scalar(select(func.count()).select_from(UseLog)) == 1

    # the citizen: 我的申请 shows the code and the link; the PDF is the issued file and verifies
    r = client.post("/api/auth/login", json={"username": "13800138000", "password": CITIZEN_PW})
    assert r.status_code == 200
    page = client.get("/portal/mine").text
    assert f"/portal/mine/certificates/{cert_code}.pdf" in page
    assert f"/verify/{cert_code}" in page
    r = client.get(f"/portal/mine/certificates/{cert_code}.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    with staffed.db.read() as s:
        stored = s.scalar(select(Certificate.pdf).where(Certificate.code == cert_code))
        result = verify_file(staffed, s, r.content)
    assert r.content == stored
    assert result.verdict is Verdict.VALID and result.code == cert_code
    # the lower-case, hyphenated form is the same certificate
    dashed = "-".join(cert_code[i : i + 4] for i in range(0, 16, 4)).lower()
    assert client.get(f"/portal/mine/certificates/{dashed}.pdf").content == stored
    # downloading is not a new use
    with staffed.db.read() as s:
        assert s.scalar(select(func.count()).select_from(UseLog)) == 1


def test_refused_request_issues_no_certificate(
    client: TestClient, staffed: Instance, catalogue: Catalogue
) -> None:
    csrf = _citizen(client, "13800138000", "11010519800101123")
    req_id = _apply(client, csrf, "出具证明", _code(staffed, catalogue.published))
    r = _decide(client, req_id, "refuse", reason="本馆未藏有所述档案")
    assert r.status_code == 200
    assert r.json()["certificate_code"] is None
    assert _certificates(staffed) == []
    with staffed.db.read() as s:
        assert s.scalar(select(func.count()).select_from(UseLog)) == 0


def test_a_reading_request_issues_no_certificate(
    client: TestClient, staffed: Instance, catalogue: Catalogue
) -> None:
    csrf = _citizen(client, "13800138000", "11010519800101123")
    req_id = _apply(client, csrf, "查阅", _code(staffed, catalogue.controlled))
    r = _decide(client, req_id, "approve", record_ids=[catalogue.controlled])
    assert r.status_code == 200 and r.json()["certificate_code"] is None
    assert _certificates(staffed) == []


def test_a_bad_page_range_fails_the_approval_and_issues_nothing(
    client: TestClient, staffed: Instance, catalogue: Catalogue
) -> None:
    csrf = _citizen(client, "13800138000", "11010519800101123")
    req_id = _apply(client, csrf, "出具证明", _code(staffed, catalogue.published), pages="3-1")
    r = _decide(client, req_id, "approve", record_ids=[catalogue.published])
    assert r.status_code in (400, 422)
    assert r.json()["errors"][0]["field"] == "pages"
    assert _certificates(staffed) == []
    with staffed.db.read() as s:
        req = s.get(AccessRequest, req_id)
        assert req is not None and req.status == "submitted" and req.certificate_code is None
    # staff correct the pages on approval: issued, and the change is the request's 页码
    r = _decide(client, req_id, "approve", record_ids=[catalogue.published], pages="1")
    assert r.status_code == 200, r.text
    assert r.json()["pages"] == "1" and len(_certificates(staffed)) == 1


def test_citizen_cannot_download_another_citizens_certificate(
    client: TestClient, staffed: Instance, catalogue: Catalogue
) -> None:
    csrf = _citizen(client, "13800138000", "11010519800101123")
    req_id = _apply(client, csrf, "出具证明", _code(staffed, catalogue.published))
    r = _decide(client, req_id, "approve", record_ids=[catalogue.published])
    cert_code = r.json()["certificate_code"]
    path = f"/portal/mine/certificates/{cert_code}.pdf"

    _citizen(client, "13900139000", "11010519800101124", name="李四")
    r = client.get(path)
    assert r.status_code == 404 and b"%PDF" not in r.content
    assert cert_code not in client.get("/portal/mine").text
    client.cookies.clear()
    r = client.get(path, follow_redirects=False)
    assert r.status_code in (401, 303) and b"%PDF" not in r.content
    # staff re-download through the register API; a revoked certificate is no longer handed out
    csrf_staff = login(client, "archivist")
    assert client.get(f"/api/certificates/{cert_code}/pdf").content[:4] == b"%PDF"
    r = client.post(
        f"/api/certificates/{cert_code}/revoke",
        json={"reason": "申请人身份有误"},
        headers={"x-csrf-token": csrf_staff},
    )
    assert r.status_code == 200, r.text
    client.cookies.clear()
    client.post("/api/auth/login", json={"username": "13800138000", "password": CITIZEN_PW})
    assert client.get(path).status_code == 409
    page = client.get("/portal/mine").text
    assert "已撤销" in page and "申请人身份有误" in page and path not in page


def test_copy_request_issues_a_certified_copy_and_logs_the_pages(
    client: TestClient, staffed: Instance, catalogue: Catalogue
) -> None:
    csrf = _citizen(client, "13800138000", "11010519800101123")
    req_id = _apply(client, csrf, "复制", _code(staffed, catalogue.published), pages="1")
    r = _decide(client, req_id, "approve", record_ids=[catalogue.published])
    assert r.status_code == 200, r.text
    (cert,) = _certificates(staffed)
    assert cert.kind == "certified_copy" and cert.page_images == 1
    with staffed.db.read() as s:
        uses = list(s.scalars(select(UseLog)))
        figures = annual_figures(s, datetime.now(UTC).year, [135, 141, 142])
    assert [(u.kind, u.pages, u.request_id) for u in uses] == [("copy", 1, req_id)]
    assert figures == {135: 1, 141: 1, 142: 0}


def test_pages_by_record_rule() -> None:
    recs = [(1, "A-1"), (2, "A-2"), (3, None)]
    assert pages_by_record("", recs) == {}
    assert pages_by_record("1-3,5", recs) == {1: "1-3,5", 2: "1-3,5", 3: "1-3,5"}
    assert pages_by_record("A-1:2-4；A-2：7", recs) == {1: "2-4", 2: "7"}
    assert pages_by_record("A-2:7; 1", recs) == {1: "1", 2: "7", 3: "1"}
    assert pages_by_record("A-1:1\nA-1:3", recs) == {1: "1,3"}
    with pytest.raises(InputError) as err:
        pages_by_record("B-9:1", recs)
    assert err.value.problems[0].field == "pages" and "B-9" in err.value.problems[0].message
