"""The online transfer API: resumable chunked upload, idempotency, digest check, permissions."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lantai.crypto import digest_bytes
from lantai.instance import Instance
from lantai.jobs import JobState
from lantai.security import Actor
from lantai.store import Event, IngestTransfer, IngestUpload, Job
from lantai.web.api import transfers as transfers_api
from lantai.web.app import create_app
from web_support import PASSWORD, USERS, login

PACKAGE = ("移交包内容 " * 5000).encode()  # 80 000 bytes


@pytest.fixture
def web_instance(instance: Instance) -> Instance:
    """The web tests' users (one per role) plus two agency systems."""
    users = {**USERS, "agency-oa": (("agency",), "公开"), "agency-ywtb": (("agency",), "公开")}
    with instance.db.write() as s:
        for name, (roles, clearance) in users.items():
            instance.users.create(
                s,
                Actor.operator(),
                username=name,
                display_name=f"{name}用户",
                password=PASSWORD,
                roles=roles,
                clearance=clearance,
            )
    return instance


@pytest.fixture
def app_client(web_instance: Instance) -> Iterator[TestClient]:
    app = create_app(web_instance, extra_routers=(transfers_api.router,))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def _token(client: TestClient, username: str) -> dict[str, str]:
    """Bearer auth, as an agency system would use (no cookie, so no CSRF token needed)."""
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _create(
    client: TestClient, auth: dict[str, str], key: str, data: bytes = PACKAGE, **kw: Any
) -> Any:
    body = {
        "idempotency_key": key,
        "filename": "移交包.zip",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        **kw,
    }
    return client.post("/api/transfers/uploads", json=body, headers=auth)


def _put(
    client: TestClient, auth: dict[str, str], uid: str, data: bytes, start: int, total: int
) -> Any:
    end = start + len(data) - 1
    return client.put(
        f"/api/transfers/uploads/{uid}",
        content=data,
        headers={**auth, "Content-Range": f"bytes {start}-{end}/{total}"},
    )


def _count(inst: Instance, model: Any) -> int:
    with inst.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_resumable_upload_then_transfer(app_client: TestClient, web_instance: Instance) -> None:
    auth = _token(app_client, "agency-oa")
    r = _create(app_client, auth, "OA-2026-0001", fonds_code="", category="WS")
    assert r.status_code == 201, r.text
    up = r.json()
    uid = up["upload_id"]
    assert up["offset"] == 0 and up["state"] == "open" and up["transfer"] is None

    total = len(PACKAGE)
    first, second = PACKAGE[:30000], PACKAGE[30000:60000]
    assert _put(app_client, auth, uid, first, 0, total).json()["offset"] == 30000
    # The connection dropped: the client asks where to continue.
    head = app_client.head(f"/api/transfers/uploads/{uid}", headers=auth)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "30000" and head.headers["Upload-Length"] == str(total)
    # A chunk that does not start at the offset is refused and changes nothing.
    r = _put(app_client, auth, uid, second[:100], 30100, total)
    assert r.status_code == 409 and r.json()["errors"][0]["value"] == "30000"
    # Re-sending the chunk already received is refused too (no double append).
    assert _put(app_client, auth, uid, first, 0, total).status_code == 409
    assert _put(app_client, auth, uid, second, 30000, total).status_code == 200
    # Completing early is refused.
    r = app_client.post(f"/api/transfers/uploads/{uid}/complete", headers=auth)
    assert r.status_code == 409 and "60000" in r.json()["error"]
    r = app_client.patch(
        f"/api/transfers/uploads/{uid}",
        content=PACKAGE[60000:],
        headers={**auth, "Content-Range": f"bytes 60000-{total - 1}/{total}"},
    )
    assert r.status_code == 200 and r.json()["offset"] == total

    r = app_client.post(f"/api/transfers/uploads/{uid}/complete", headers=auth)
    assert r.status_code == 201, r.text
    transfer = r.json()
    assert transfer["state"] == "received" and transfer["created_by"] == "agency-oa"
    assert transfer["category"] == "WS"
    d = digest_bytes(PACKAGE)
    assert transfer["package"] == {"size": total, "sha256": d.sha256, "sm3": d.sm3}
    # The same completion again, and the same key again: the same transfer, nothing new.
    again = app_client.post(f"/api/transfers/uploads/{uid}/complete", headers=auth)
    assert again.status_code == 200 and again.json()["uid"] == transfer["uid"]
    r = _create(app_client, auth, "OA-2026-0001", category="WS")
    assert r.status_code == 200 and r.json()["transfer"] == transfer["uid"]
    assert _count(web_instance, IngestTransfer) == 1 and _count(web_instance, IngestUpload) == 1

    # The package is assembled byte for byte where the ingest job will read it, and queued.
    with web_instance.db.read() as s:
        row = s.scalar(select(IngestTransfer))
        assert row is not None
        from pathlib import Path

        assert Path(row.source_path).read_bytes() == PACKAGE and row.source_owned
        job = s.get(Job, row.job_id)
        assert job is not None and job.state == JobState.QUEUED and job.kind == "ingest.transfer"
        assert job.params == {"transfer_id": row.id}
        received = s.scalars(select(Event.action).where(Event.object_id == row.uid)).all()
    assert received == ["ingest:transfer:received"]
    # Appending to a completed upload is refused.
    assert _put(app_client, auth, uid, b"x", 0, total).status_code == 409

    # Progress and listing.
    r = app_client.get(f"/api/transfers/{transfer['uid']}", headers=auth)
    assert r.status_code == 200 and r.json()["job"]["state"] == "queued"
    assert [t["uid"] for t in app_client.get("/api/transfers", headers=auth).json()] == [
        transfer["uid"]
    ]
    r = app_client.get(f"/api/transfers/{transfer['uid']}/report.json", headers=auth)
    assert r.status_code == 404 and "尚未生成" in r.json()["error"]


def test_wrong_digest_is_refused_and_nothing_submitted(
    app_client: TestClient, web_instance: Instance
) -> None:
    auth = _token(app_client, "agency-oa")
    declared = PACKAGE.replace("内".encode(), "外".encode(), 1)  # the sender hashed other bytes
    body = {
        "idempotency_key": "OA-bad",
        "filename": "a.zip",
        "size": len(PACKAGE),
        "sha256": hashlib.sha256(declared).hexdigest(),
    }
    uid = app_client.post("/api/transfers/uploads", json=body, headers=auth).json()["upload_id"]
    assert _put(app_client, auth, uid, PACKAGE, 0, len(PACKAGE)).status_code == 200
    r = app_client.post(f"/api/transfers/uploads/{uid}/complete", headers=auth)
    assert r.status_code == 422
    problem = r.json()["errors"][0]
    assert problem["field"] == "sha256" and problem["value"] == hashlib.sha256(PACKAGE).hexdigest()
    assert _count(web_instance, IngestTransfer) == 0 and _count(web_instance, Job) == 0
    # The upload was emptied so the right bytes can be sent again under the same key.
    assert app_client.get(f"/api/transfers/uploads/{uid}", headers=auth).json()["offset"] == 0


def test_idempotency_key_conflicts_and_limits(
    app_client: TestClient, web_instance: Instance
) -> None:
    auth = _token(app_client, "agency-oa")
    first = _create(app_client, auth, "K1")
    assert first.status_code == 201
    assert _create(app_client, auth, "K1").json()["upload_id"] == first.json()["upload_id"]
    other = _create(app_client, auth, "K1", data=PACKAGE + b"!")
    assert other.status_code == 409 and other.json()["errors"][0]["field"] == "idempotency_key"
    # Keys are per account: another agency may use the same string.
    auth2 = _token(app_client, "agency-ywtb")
    assert _create(app_client, auth2, "K1").status_code == 201
    # Too large a package is refused before a byte is sent.
    web_instance.settings.ingest_max_package_mb = 1
    big = {"idempotency_key": "K2", "filename": "big.zip", "size": 2 << 20, "sha256": "0" * 64}
    assert app_client.post("/api/transfers/uploads", json=big, headers=auth).status_code == 413
    bad = {"idempotency_key": "K3", "filename": "x.zip", "size": 10, "sha256": "g" * 64}
    assert app_client.post("/api/transfers/uploads", json=bad, headers=auth).status_code == 422
    # Malformed ranges.
    uid = first.json()["upload_id"]
    r = app_client.put(f"/api/transfers/uploads/{uid}", content=b"abc", headers=auth)
    assert r.status_code == 422
    r = app_client.put(
        f"/api/transfers/uploads/{uid}",
        content=b"abc",
        headers={**auth, "Content-Range": "bytes 0-2/5"},
    )
    assert r.status_code == 422  # total differs from the registered size


def _submit(client: TestClient, auth: dict[str, str], key: str) -> str:
    uid = _create(client, auth, key).json()["upload_id"]
    assert _put(client, auth, uid, PACKAGE, 0, len(PACKAGE)).status_code == 200
    r = client.post(f"/api/transfers/uploads/{uid}/complete", headers=auth)
    assert r.status_code == 201, r.text
    return str(r.json()["uid"])


def test_permissions_per_route(app_client: TestClient, web_instance: Instance) -> None:
    oa = _token(app_client, "agency-oa")
    ywtb = _token(app_client, "agency-ywtb")
    mine = _submit(app_client, oa, "OA-1")
    theirs = _submit(app_client, ywtb, "YWTB-1")
    # An agency sees only its own transfers and uploads.
    assert [t["uid"] for t in app_client.get("/api/transfers", headers=oa).json()] == [mine]
    assert app_client.get(f"/api/transfers/{theirs}", headers=oa).status_code == 404
    assert app_client.get(f"/api/transfers/{theirs}/report.json", headers=oa).status_code == 404
    # …and may not review.
    r = app_client.post(f"/api/transfers/{mine}/review", json={"reason": "x"}, headers=oa)
    assert r.status_code == 403
    # The archivist sees all of them (and the review needs a pending review).
    archivist = _token(app_client, "archivist")
    listed = {t["uid"] for t in app_client.get("/api/transfers", headers=archivist).json()}
    assert listed == {mine, theirs}
    r = app_client.post(f"/api/transfers/{mine}/review", json={"reason": "已核"}, headers=archivist)
    assert r.status_code == 409
    # A reader has no ingest permission at all; anonymous callers must log in.
    reader = _token(app_client, "reader")
    some = str(uuid.uuid4())
    routes = [
        ("post", "/api/transfers/uploads", {"json": {}}),
        ("get", f"/api/transfers/uploads/{some}", {}),
        ("head", f"/api/transfers/uploads/{some}", {}),
        ("put", f"/api/transfers/uploads/{some}", {"content": b"x"}),
        ("post", f"/api/transfers/uploads/{some}/complete", {}),
        ("get", "/api/transfers", {}),
        ("get", f"/api/transfers/{mine}", {}),
        ("get", f"/api/transfers/{mine}/report.html", {}),
        ("post", f"/api/transfers/{mine}/review", {"json": {"reason": "x"}}),
    ]
    for method, url, kw in routes:
        r = getattr(app_client, method)(url, headers=reader, **kw)
        assert r.status_code == 403, (method, url, r.status_code)
        r = getattr(app_client, method)(url, **kw)
        assert r.status_code == 401, (method, url, r.status_code)
    # Another account's upload does not exist for this one.
    up = _create(app_client, ywtb, "YWTB-2").json()["upload_id"]
    assert app_client.get(f"/api/transfers/uploads/{up}", headers=oa).status_code == 404


def test_cookie_session_needs_csrf(app_client: TestClient) -> None:
    csrf = login(app_client, "archivist")
    body = {"idempotency_key": "web-1", "filename": "a.zip", "size": 3, "sha256": "0" * 64}
    assert app_client.post("/api/transfers/uploads", json=body).status_code == 403
    r = app_client.post("/api/transfers/uploads", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201


@pytest.fixture
def page_client(web_instance: Instance) -> Iterator[TestClient]:
    from lantai.web.pages import transfers as transfer_pages

    app = create_app(web_instance, extra_routers=(transfers_api.router, transfer_pages.router))
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        yield c


def test_upload_page(page_client: TestClient, web_instance: Instance) -> None:
    from factories import create_fonds

    create_fonds(web_instance, Actor.operator(), code="Z109")
    csrf = login(page_client, "agency-oa")
    page = page_client.get("/transfers")
    assert page.status_code == 200 and 'id="transfer-form"' in page.text
    assert "Z109" in page.text
    form = {
        "csrf_token": csrf,
        "idempotency_key": "form-1",
        "fonds_code": "Z109",
        "category": "WS",
        "stage": "YJ",
    }
    files = {"file": ("移交包.zip", PACKAGE, "application/zip")}
    r = page_client.post("/transfers", data=form, files=files)
    assert r.status_code == 303, r.text
    target = r.headers["location"]
    # The form sent twice starts one transfer.
    again = page_client.post("/transfers", data=form, files=files)
    assert again.headers["location"] == target
    assert _count(web_instance, IngestTransfer) == 1
    detail = page_client.get(target)
    assert detail.status_code == 200 and "移交包.zip" in detail.text and "已接收" in detail.text
    assert 'data-poll-uid="' in detail.text
    # A bad target is refused on the page, with the rule, and nothing is kept.
    bad = page_client.post(
        "/transfers", data={**form, "idempotency_key": "form-2", "fonds_code": "Q999"}, files=files
    )
    assert bad.status_code == 422 and "Q999" in bad.text
    assert _count(web_instance, IngestTransfer) == 1
    uploads = web_instance.settings.staging_dir / "uploads"
    assert len(list(uploads.iterdir())) == 1
    # Without the CSRF token the form is refused.
    r = page_client.post("/transfers", data={**form, "csrf_token": "x"}, files=files)
    assert r.status_code == 403
    # A reader may not open the page.
    page_client.cookies.clear()
    login(page_client, "reader")
    assert page_client.get("/transfers").status_code == 403
