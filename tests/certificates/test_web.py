"""The public verification page and API, the staff register, and who may do what."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from certificates.conftest import issue
from lantai.instance import Instance
from lantai.security import Actor
from lantai.web.app import create_app
from web_support import PASSWORD, USERS, login


@pytest.fixture
def client(instance: Instance) -> Iterator[TestClient]:
    op = Actor.operator()
    with instance.db.write() as s:
        for name, (roles, clearance) in USERS.items():
            instance.users.create(
                s,
                op,
                username=name,
                display_name=f"{name}用户",
                password=PASSWORD,
                roles=roles,
                clearance=clearance,
            )
    with TestClient(create_app(instance), base_url="http://127.0.0.1") as c:
        yield c


def test_verification_page_in_chinese_by_code_and_by_file(
    client: TestClient, instance: Instance, items: list
) -> None:
    c = issue(instance, [items[0][0]], pages={items[0][0]: "1-2"})
    page = client.get("/verify")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    for text in ("档案证明查验", "输入验证码", "上传证明文件", "示范市档案馆"):
        assert text in page.text
    r = client.get(f"/verify/{c.code}")  # what the QR code opens
    assert r.status_code == 200
    for text in ("查验结果：有效", "示范市档案馆", items[0][1], "1-2", "未被改动", "张**"):
        assert text in r.text, text
    assert "张建国" not in r.text and "1234" not in r.text  # minimal data, no ID number
    r = client.get("/verify", params={"code": c.code.lower()}, follow_redirects=True)
    assert "查验结果：有效" in r.text
    r = client.post("/verify", files={"file": ("证明.pdf", c.pdf, "application/pdf")})
    assert r.status_code == 200 and "查验结果：有效" in r.text and "电子签名有效" in r.text
    bad = bytearray(c.pdf)
    bad[1000] ^= 0x04
    r = client.post("/verify", files={"file": ("证明.pdf", bytes(bad), "application/pdf")})
    assert "查验结果：已被篡改" in r.text and "已被改动" in r.text
    r = client.get("/verify/ABCD-EFGH-JKMN-PQRS")
    assert "查验结果：查无此证" in r.text and "验证码不正确" in r.text


def test_public_api_by_code_file_and_keys(
    client: TestClient, instance: Instance, items: list
) -> None:
    c = issue(instance, [items[1][0]])
    r = client.get(f"/api/public/certificates/{c.code}")
    body = r.json()
    assert r.status_code == 200 and body["verdict"] == "valid" and body["ok"] is True
    assert body["authentic"] and body["unaltered"] and body["issuer_code"] == "136101"
    assert body["digest"] == c.digest and body["applicant"] == "张**"
    assert "applicant_id_masked" not in body and "110***" not in r.text
    r = client.post(
        "/api/public/certificates/verify", files={"file": ("c.pdf", c.pdf[:-20], "application/pdf")}
    )
    assert r.json()["verdict"] == "tampered" and r.json()["verdict_label"] == "已被篡改"
    keys = client.get("/api/public/certificates/keys").json()
    assert keys["format"] == "LANTAI-CERT-KEYS-1" and keys["keys"][0]["key_id"] == c.key_id
    assert "PRIVATE" not in str(keys)


def test_uploads_are_size_limited_and_lookups_rate_limited(
    client: TestClient, instance: Instance
) -> None:
    instance.settings.certificate_verify_max_mb = 1
    r = client.post(
        "/api/public/certificates/verify",
        files={"file": ("big.pdf", b"%PDF-" + b"0" * (1 << 20), "application/pdf")},
    )
    assert r.status_code == 413 and r.json()["code"] == "upload_too_large"
    statuses = [
        client.get("/api/public/certificates/ABCDEFGHJKMNPQRS").status_code for _ in range(21)
    ]
    assert statuses[:20] == [200] * 20 and statuses[20] == 429
    r = client.get("/api/public/certificates/ABCDEFGHJKMNPQRS")
    assert r.json()["code"] == "rate_limited" and "查验过于频繁" in r.json()["error"]
    assert "查验过于频繁" in client.get("/verify/ABCDEFGHJKMNPQRS").text


def test_staff_issue_list_download_and_revoke(
    client: TestClient, instance: Instance, items: list
) -> None:
    rid = items[0][0]
    body = {
        "kind": "certificate",
        "record_ids": [rid],
        "pages": {str(rid): "2"},
        "applicant_name": "李四",
        "applicant_id_masked": "320***********567X",
        "purpose": "工作查考",
        "request_ref": "SQ-9",
    }
    login(client, "reader")
    assert client.post("/api/certificates", json=body).status_code == 403
    assert client.get("/api/certificates").status_code == 403
    assert client.get("/certificates").status_code == 403
    client.cookies.clear()
    csrf = login(client, "archivist")
    headers = {"x-csrf-token": csrf}
    r = client.post("/api/certificates", json=body, headers=headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["status"] == "valid" and made["citations"][0]["pages"] == "2"
    code = made["code"]
    pdf = client.get(f"/api/certificates/{code}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    from hashlib import sha256

    assert sha256(pdf.content).hexdigest() == made["file_sha256"]
    listing = client.get("/api/certificates", params={"request_ref": "SQ-9"}).json()
    assert listing["total"] == 1 and listing["items"][0]["code"] == code
    page = client.get("/certificates")
    assert page.status_code == 200 and made["code_display"] in page.text and "撤销" in page.text
    r = client.post(f"/api/certificates/{code}/revoke", json={"reason": ""}, headers=headers)
    assert r.status_code == 422
    r = client.post(
        f"/certificates/{code}/revoke",
        data={"reason": "重复出具", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get(f"/api/public/certificates/{code}").json()["verdict"] == "revoked"
    r = client.get(f"/verify/{code}")
    assert "查验结果：已撤销" in r.text and "重复出具" in r.text
    r = client.post(f"/api/certificates/{code}/revoke", json={"reason": "x"}, headers=headers)
    assert r.status_code == 409
    r = client.post(
        "/api/certificates",
        json={**body, "applicant_id_masked": "320102199001015678"},
        headers=headers,
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "applicant_id_masked"
    client.cookies.clear()
    login(client, "secadmin")  # 三员: manages keys, sees no certificates
    assert client.get("/api/certificates").status_code == 403


# -- the layout of /verify: the public portal's for the public, the staff one for staff ----------

CITIZEN_PW = "Citizen-Pass-2026!"
PORTAL_HEADER = ('class="portal-top"', 'aria-label="门户导航"', 'href="/portal/search"')


def _staff_nav(page: str) -> list[str]:
    """The staff navigation items that appear in ``page``."""
    from lantai.web.pages.render import NAV

    found = [f'href="{href}"' for _, href, _ in NAV if f'href="{href}"' in page]
    return found + [m for m in ('class="mainnav"', 'action="/logout"') if m in page]


def test_verification_page_uses_the_portal_layout_for_the_public(
    client: TestClient, instance: Instance, items: list[tuple[int, str]]
) -> None:
    c = issue(instance, [items[0][0]])
    for path in ("/verify", f"/verify/{c.code}"):
        page = client.get(path)
        assert page.status_code == 200 and "档案证明查验" in page.text
        assert _staff_nav(page.text) == [], path
        assert "数字档案馆系统" not in page.text  # the staff brand
        for marker in PORTAL_HEADER:
            assert marker in page.text, (path, marker)
        assert 'href="/portal/login"' in page.text  # anonymous: the portal's login link
        assert "/static/css/certificates.css" in page.text
    r = client.post("/verify", files={"file": ("证明.pdf", c.pdf, "application/pdf")})
    assert "查验结果：有效" in r.text and _staff_nav(r.text) == []
    assert 'class="portal-top"' in r.text

    # a citizen logged in to the portal: the portal header with their own links, no staff items
    from access.conftest import id_number

    r = client.post(
        "/api/public/register",
        json={
            "real_name": "王小明",
            "id_number": id_number(),
            "phone": "13800138000",
            "password": CITIZEN_PW,
        },
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/auth/login", json={"username": "13800138000", "password": CITIZEN_PW})
    assert r.status_code == 200, r.text
    page = client.get(f"/verify/{c.code}")
    assert page.status_code == 200 and "查验结果：有效" in page.text
    assert _staff_nav(page.text) == []
    for marker in (*PORTAL_HEADER, 'href="/portal/mine"', 'action="/portal/logout"'):
        assert marker in page.text, marker
    client.cookies.clear()

    # staff keep the staff layout (navigation by permission) and can still verify
    login(client, "archivist")
    page = client.get("/verify")
    assert page.status_code == 200
    assert 'class="mainnav"' in page.text and 'href="/certificates"' in page.text
    assert 'class="portal-top"' not in page.text
    r = client.post("/verify", files={"file": ("证明.pdf", c.pdf, "application/pdf")})
    assert "查验结果：有效" in r.text and 'class="mainnav"' in r.text
    client.cookies.clear()


# -- a tampered upload shows the registered digest and the uploaded file's own ------------------


def _digest_on_page(page: str, css: str) -> str:
    import re

    found = re.findall(rf'<code class="wrap {css}">([0-9a-f]+)</code>', page)
    assert len(found) == 1, (css, found)
    return str(found[0])


def test_tampered_upload_shows_registered_and_uploaded_digests(
    client: TestClient, instance: Instance, items: list[tuple[int, str]]
) -> None:
    from hashlib import sha256

    c = issue(instance, [items[0][0]])
    flipped = bytearray(c.pdf)
    flipped[len(flipped) // 3] ^= 0x01  # inside the signed part
    bad = bytes(flipped)
    assert sha256(bad).hexdigest() != c.file_sha256

    r = client.post("/verify", files={"file": ("证明.pdf", bad, "application/pdf")})
    assert r.status_code == 200 and "查验结果：已被篡改" in r.text
    assert "登记摘要（SHA-256）" in r.text and "上传文件摘要（SHA-256）" in r.text
    registered = _digest_on_page(r.text, "cert-registered-digest")
    uploaded = _digest_on_page(r.text, "cert-uploaded-digest")
    assert registered == c.file_sha256
    assert uploaded == sha256(bad).hexdigest() != registered
    assert "与登记摘要不一致" in r.text

    body = client.post(
        "/api/public/certificates/verify", files={"file": ("c.pdf", bad, "application/pdf")}
    ).json()
    assert body["verdict"] == "tampered" and body["verdict_label"] == "已被篡改"
    assert body["file_sha256"] == c.file_sha256
    assert body["uploaded_sha256"] == sha256(bad).hexdigest()

    # the untampered file: both digests shown and equal; a code lookup has no uploaded digest
    r = client.post("/verify", files={"file": ("证明.pdf", c.pdf, "application/pdf")})
    assert "查验结果：有效" in r.text and "与登记摘要一致" in r.text
    assert (
        _digest_on_page(r.text, "cert-uploaded-digest")
        == _digest_on_page(r.text, "cert-registered-digest")
        == c.file_sha256
    )
    r = client.get(f"/verify/{c.code}")
    assert _digest_on_page(r.text, "cert-registered-digest") == c.file_sha256
    assert "上传文件摘要" not in r.text
