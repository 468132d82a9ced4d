"""档案利用: registration, the authorisation walk, grants, bookings under concurrency, 利用登记,
the watermarked viewer (the master is never served) and rate limits."""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import event, select, update

from access.conftest import Catalogue, id_number
from concurrency_support import failures, race
from lantai.access.accounts import id_key
from lantai.access.appointments import book
from lantai.access.config import load_access_config
from lantai.access.copies import (
    PageCounts,
    count_pages,
    list_pages,
    page_count_columns,
    page_counts,
)
from lantai.access.uselog import annual_figures
from lantai.errors import Conflict
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.security.passwords import PasswordHashing
from lantai.store import (
    AccessGrant,
    Citizen,
    IngestTransfer,
    Record,
    RecordFile,
    ScanBatch,
    ScanDerivative,
    ScanPage,
    UseLog,
    User,
    utcnow,
)
from lantai.web.app import ROUTERS
from lantai.web.ratelimit import RateLimiter
from web_support import login

CITIZEN_PW = "Citizen-Pass-2026!"


def register(
    client: TestClient, phone: str = "13800138000", body: str = "11010519800101123", **extra: str
) -> None:
    r = client.post(
        "/api/public/register",
        json={
            "real_name": "王小明",
            "id_number": id_number(body),
            "phone": phone,
            "password": CITIZEN_PW,
            **extra,
        },
    )
    assert r.status_code == 201, r.text


def citizen_login(client: TestClient, phone: str = "13800138000") -> str:
    r = client.post("/api/auth/login", json={"username": phone, "password": CITIZEN_PW})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def test_registration_reports_each_bad_field(client: TestClient, staffed: Instance) -> None:
    bad_id = id_number()[:-1] + ("0" if id_number()[-1] != "0" else "1")
    r = client.post(
        "/api/public/register",
        json={"real_name": "王", "id_number": bad_id, "phone": "12345", "password": "short"},
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"real_name", "id_number", "phone", "password"} <= fields
    id_err = next(e for e in r.json()["errors"] if e["field"] == "id_number")
    assert "GB 11643" in id_err["rule"] and bad_id not in str(id_err)
    register(client)
    with staffed.db.read() as s:
        c = s.scalars(select(Citizen)).one()
        assert c.id_masked == "110***********" + id_number()[-4:] and id_number() not in c.id_hash
    r = client.post(
        "/api/public/register",
        json={
            "real_name": "李四",
            "id_number": id_number(),
            "phone": "13900139000",
            "password": CITIZEN_PW,
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "id_number"


def test_first_registrations_racing_share_one_id_key(instance: Instance) -> None:
    """The ID-hash key is made on first use; citizens registering at that moment (the soak
    bench's first seconds) must neither fail nor hash with different keys."""
    assert not (instance.settings.secrets_dir / "access-id.key").exists()
    got = race(12, lambda _: id_key(instance))
    assert failures(got) == []
    assert len(set(got)) == 1
    assert id_key(instance) == got[0]


def test_citizen_role_holds_no_staff_permission_and_cannot_reach_staff_apis(
    client: TestClient, staffed: Instance
) -> None:
    assert staffed.roles.permissions(("citizen",)) == {Perm.ACCESS_PORTAL_SELF}
    register(client)
    csrf = citizen_login(client)
    for path in (
        "/api/access/requests",
        "/api/access/uses/totals",
        "/api/fonds",
        "/api/search?q=青铜鼎",
        "/api/users",
    ):
        assert client.get(path).status_code == 403, path
    r = client.post(
        "/api/access/requests/1/approve", json={"record_ids": [1]}, headers={"x-csrf-token": csrf}
    )
    assert r.status_code == 403
    with pytest.raises(Exception, match="不得兼任"):
        staffed.roles.check_combination(("citizen", "archivist"), username="x")


def _public_routes(client: TestClient) -> list[APIRoute]:
    routes = [r for router in ROUTERS for r in router.routes]
    return [
        r
        for r in routes
        if isinstance(r, APIRoute)
        and "GET" in r.methods
        and (
            r.path.startswith(("/portal", "/api/public", "/public"))
            or r.path in ("/", "/api/health")
        )
    ]


def _walk(client: TestClient, cat: Catalogue) -> str:
    """Every public GET route with every hidden id (and searches for their titles): all text seen."""
    seen: list[str] = []
    for route in _public_routes(client):
        paths = []
        if "{record_id}" in route.path:
            for rid in cat.hidden.values():
                paths.append(route.path.replace("{record_id}", str(rid)).replace("{n}", "1"))
        elif "{" not in route.path:
            paths.append(route.path)
        elif "{level}" in route.path:
            paths += [f"/api/public/open-catalogue/{lv}.xlsx" for lv in ("file", "item")]
        elif "{key}" in route.path:
            paths.append("/portal/collections/minsheng")
        for p in paths:
            for q in ("", "?q=青铜鼎", "?q=青銅鼎&size=100", "?open_status=控制"):
                r = client.get(p + q, follow_redirects=True)
                if "/{record_id}" in route.path:
                    assert r.status_code == 404, (p, r.status_code)
                seen.append(r.text if "image" not in r.headers.get("content-type", "") else "")
    return "\n".join(seen)


def test_authorisation_walk_hides_controlled_postponed_unreviewed_and_unpublished(
    client: TestClient, catalogue: Catalogue
) -> None:
    text = _walk(client, catalogue)
    assert "出土情况" in text  # the published record is found (the walk sees real pages)
    for title in ("修复的函", "保护经费", "鉴定意见", "移交的批复", "借展的意见"):
        assert title not in text
    r = client.get("/api/public/search", params={"q": "青铜鼎", "size": 100})
    assert r.json()["total"] == 2  # counted: published only
    # and as a citizen without grants
    register(client)
    citizen_login(client)
    text = _walk(client, catalogue)
    for title in ("修复的函", "保护经费", "鉴定意见", "移交的批复", "借展的意见"):
        assert title not in text


def _apply_and_approve(
    client: TestClient, cat: Catalogue, staffed: Instance, days: int = 30
) -> int:
    register(client)
    csrf = citizen_login(client)
    r = client.post(
        "/api/access/mine/requests",
        json={
            "kind": "查阅",
            "purpose": "权益维护",
            "description": "查阅保护经费请示",
            "archival_codes": ["X-1"],
        },
        headers={"x-csrf-token": csrf},
    )
    assert r.status_code == 201, r.text
    req_id = r.json()["id"]
    client.cookies.clear()
    staff_csrf = login(client, "archivist")
    r = client.post(
        f"/api/access/requests/{req_id}/approve",
        json={"record_ids": [cat.controlled], "days": days},
        headers={"x-csrf-token": staff_csrf},
    )
    assert r.status_code == 200, r.text
    # 延期开放 and 未审核 can never be granted
    client.cookies.clear()
    return int(req_id)


def test_grant_is_scoped_and_time_limited(
    client: TestClient, catalogue: Catalogue, staffed: Instance
) -> None:
    _apply_and_approve(client, catalogue, staffed)
    citizen_login(client)
    r = client.get(f"/portal/records/{catalogue.controlled}")
    assert r.status_code == 200 and "保护经费" in r.text and "经批准利用" in r.text
    assert client.get(f"/portal/records/{catalogue.controlled}/pages/1.jpg").status_code == 200
    assert client.get(f"/portal/records/{catalogue.controlled_other}").status_code == 404
    assert (
        client.get(f"/portal/records/{catalogue.controlled_other}/pages/1.jpg").status_code == 404
    )
    # still never in search
    assert "保护经费" not in client.get("/api/public/search", params={"q": "青铜鼎"}).text
    with staffed.db.write() as s:
        s.execute(update(AccessGrant).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get(f"/portal/records/{catalogue.controlled}").status_code == 404
    assert client.get(f"/portal/records/{catalogue.controlled}/pages/1.jpg").status_code == 404
    client.cookies.clear()
    assert client.get(f"/portal/records/{catalogue.controlled}").status_code == 404


def test_postponed_and_unreviewed_cannot_be_granted(
    client: TestClient, catalogue: Catalogue
) -> None:
    register(client)
    csrf = citizen_login(client)
    r = client.post(
        "/api/access/mine/requests",
        json={"kind": "查阅", "purpose": "学术研究", "description": "研究"},
        headers={"x-csrf-token": csrf},
    )
    req_id = r.json()["id"]
    client.cookies.clear()
    staff_csrf = login(client, "archivist")
    r = client.post(
        f"/api/access/requests/{req_id}/approve",
        json={"record_ids": [catalogue.postponed, catalogue.unreviewed]},
        headers={"x-csrf-token": staff_csrf},
    )
    assert r.status_code == 422 and len(r.json()["errors"]) == 2
    r = client.post(
        f"/api/access/requests/{req_id}/refuse",
        json={"reason": ""},
        headers={"x-csrf-token": staff_csrf},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = client.post(
        f"/api/access/requests/{req_id}/refuse",
        json={"reason": "涉及个人隐私，不予利用"},
        headers={"x-csrf-token": staff_csrf},
    )
    assert r.status_code == 200 and r.json()["status"] == "refused"
    client.cookies.clear()
    citizen_login(client)
    mine = client.get("/api/access/mine/requests").json()
    assert mine[0]["status"] == "refused" and mine[0]["reason"] == "涉及个人隐私，不予利用"


def test_appointment_capacity_holds_under_concurrent_bookings(staffed: Instance) -> None:
    cfg = load_access_config()
    users = []
    with staffed.db.write() as s:
        for i in range(12):
            u = User(username=f"1390000{i:04d}", display_name=f"u{i}", password_hash="x")
            s.add(u)
            s.flush()
            users.append(Actor(username=u.username, display_name=u.display_name, user_id=u.id))
    today = date(2026, 11, 20)  # a Friday; Monday 2026-11-23 has slot am (capacity 8)
    day = date(2026, 11, 23)
    ok: list[int] = []
    full: list[int] = []
    barrier = threading.Barrier(len(users))

    def go(actor: Actor) -> None:
        barrier.wait()
        try:
            with staffed.db.write() as s:
                book(staffed, s, actor, day, "am", cfg, today=today)
            ok.append(1)
        except Conflict:
            full.append(1)

    threads = [threading.Thread(target=go, args=(a,)) for a in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ok) == 8 and len(full) == 4


def test_use_log_counts_persons_and_items(
    client: TestClient, catalogue: Catalogue, staffed: Instance
) -> None:
    for _ in range(3):  # a visitor pages through one record three times: one 卷（件）次
        assert client.get(f"/portal/records/{catalogue.published}/pages/1.jpg").status_code == 200
    req_id = _apply_and_approve(client, catalogue, staffed)
    citizen_login(client)
    client.get(f"/portal/records/{catalogue.controlled}/pages/1.jpg")
    client.cookies.clear()
    csrf = login(client, "archivist")
    r = client.post(
        "/api/access/uses",
        json={
            "kind": "copy",
            "record_ids": [catalogue.controlled],
            "request_id": req_id,
            "pages": 3,
        },
        headers={"x-csrf-token": csrf},
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/access/uses",
        json={
            "kind": "visit",
            "record_ids": [catalogue.published, catalogue.published_other],
            "visitor": "张三",
            "purpose": "工作查考",
            "user_type": "单位",
        },
        headers={"x-csrf-token": csrf},
    )
    assert r.status_code == 201, r.text
    t = client.get("/api/access/uses/totals").json()
    # persons: visitor, citizen (view + copy same day = 1), walk-in = 3; items: 1 + 1 + 1 + 2 = 5
    assert t["persons"] == 3 and t["items"] == 5 and t["copy_pages"] == 3
    assert t["by_channel"] == {"网上": 2, "到馆": 2}
    with staffed.db.read() as s:
        year = s.scalars(select(UseLog.day)).first().year  # type: ignore[union-attr]
        fig = annual_figures(s, year)
    assert fig[134] == 3 and fig[135] == 5 and fig[136] == 1 and fig[139] == 1 and fig[140] == 1
    assert fig[141] == 3 and fig[143] == 2


def test_viewer_serves_watermarked_access_copy_never_the_master(
    client: TestClient, catalogue: Catalogue
) -> None:
    r = client.get(f"/portal/records/{catalogue.published}/pages/1.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert (
        r.content[:2] == b"\xff\xd8"
        and hashlib.sha256(r.content).digest() != hashlib.sha256(catalogue.master).digest()
    )
    img = Image.open(io.BytesIO(r.content)).convert("RGB")
    assert max(img.size) <= 1600
    # the master is pure white: every coloured pixel is the watermark
    reddish = sum(1 for px in img.get_flattened_data() if px[0] - px[2] > 25)  # type: ignore[index,misc,operator,unused-ignore]
    assert reddish > img.width * img.height * 0.005
    page = client.get(f"/portal/records/{catalogue.published}").text
    assert re.search(rf'src="/portal/records/{catalogue.published}/pages/1.jpg"', page)
    assert catalogue.master not in r.content


def test_rate_limit_answers_429_in_chinese(client: TestClient) -> None:
    client.app.state.ratelimiter = RateLimiter({"search": (60, 3)})  # type: ignore[attr-defined]
    codes = [client.get("/api/public/search", params={"q": "青铜鼎"}).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    body = client.get("/api/public/search", params={"q": "x"}).json()
    assert body["code"] == "rate_limited" and "请求过于频繁" in body["error"]
    limiter = RateLimiter({"x": (60, 1)})
    assert limiter.take("x", "a", now=0) == 0 and limiter.take("x", "a", now=0.5) > 0
    assert limiter.take("x", "a", now=1.1) == 0 and limiter.take("x", "b", now=0.5) == 0


def test_portal_pages_render(client: TestClient, catalogue: Catalogue) -> None:
    home = client.get("/portal")
    assert home.status_code == 200 and "民生档案" in home.text and "<script" not in home.text
    assert catalogue.fonds_code in client.get("/portal/fonds").text
    r = client.get("/portal/search", params={"q": "青銅鼎"})  # traditional characters
    assert "出土情况" in r.text and f"/portal/records/{catalogue.published}" in r.text
    r = client.post(
        "/portal/register",
        data={
            "real_name": "王小明",
            "id_number": "110105198001011230",
            "phone": "13800138000",
            "password": CITIZEN_PW,
            "form_csrf": "x",
        },
    )
    assert r.status_code == 403
    assert (
        client.get("/portal/mine", follow_redirects=False)
        .headers["location"]
        .startswith("/portal/login")
    )


def _writer_free(inst: Instance) -> bool:
    """Whether another connection could take SQLite's (only) writer lock right now."""
    con = sqlite3.connect(inst.db.engine.url.database or "", timeout=0)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        con.close()


def test_passwords_are_hashed_outside_the_write_transaction(
    client: TestClient, staffed: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write transaction holds SQLite's only writer lock: while argon2 runs (~0.25 s with the
    shipped cost) every other write would wait — under bench/soak.py's load registrations and
    logins held up applications and ingest for up to 30 s. Registration (API and portal form)
    and login (right, wrong and unknown account) hash and verify with the lock free."""
    hashing = staffed.users.hashing
    free: list[tuple[str, bool]] = []
    real_hash, real_verify = hashing.hash, hashing.verify

    def hash_(password: str) -> str:
        free.append(("hash", _writer_free(staffed)))
        return real_hash(password)

    def verify(stored: str, password: str) -> bool:
        free.append(("verify", _writer_free(staffed)))
        return real_verify(stored, password)

    monkeypatch.setattr(hashing, "hash", hash_)
    monkeypatch.setattr(hashing, "verify", verify)
    register(client)
    citizen_login(client)
    client.cookies.clear()
    token = re.search(r'name="form_csrf" value="([^"]+)"', client.get("/portal/register").text)
    assert token is not None
    r = client.post(
        "/portal/register",
        data={
            "real_name": "李小红",
            "id_number": id_number("11010519900101456"),
            "phone": "13900139000",
            "password": CITIZEN_PW,
            "form_csrf": token.group(1),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    for who in ("13800138000", "13700137000"):  # a wrong password, an unknown account
        r = client.post("/api/auth/login", json={"username": who, "password": "Wrong-Pass-2026!"})
        assert r.status_code == 401
    with staffed.db.read() as s:
        user = s.scalar(select(User).where(User.username == "13800138000"))
        assert user is not None and user.failed_logins == 1  # still counted
    kinds = [k for k, _ in free]
    assert kinds.count("hash") >= 2 and kinds.count("verify") >= 4, free
    assert all(ok for _, ok in free), free


def test_a_login_rehashes_an_old_password_hash_outside_the_write_transaction(
    client: TestClient, staffed: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash made with older argon2 parameters is replaced at the next login; the new hash (a
    second argon2 run) is made before the write transaction, like the verification."""
    register(client)
    old = PasswordHashing(time_cost=1, memory_kib=8192, parallelism=1).hash(CITIZEN_PW)
    with staffed.db.write() as s:
        s.execute(update(User).where(User.username == "13800138000").values(password_hash=old))
    hashing = staffed.users.hashing
    assert hashing.needs_rehash(old)
    free: list[bool] = []
    real_hash = hashing.hash

    def hash_(password: str) -> str:
        free.append(_writer_free(staffed))
        return real_hash(password)

    monkeypatch.setattr(hashing, "hash", hash_)
    citizen_login(client)
    assert free == [True]  # one new hash, made with the writer lock free
    with staffed.db.read() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "13800138000"))
    assert stored is not None and stored != old and not hashing.needs_rehash(stored)
    assert hashing.verify(stored, CITIZEN_PW)


def _statements(inst: Instance) -> Iterator[list[str]]:
    """The SQL statements run on ``inst``'s database inside the block (BEGIN left out)."""
    seen: list[str] = []

    def listen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(inst.db.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(inst.db.engine, "before_cursor_execute", listen)


def test_record_page_and_search_page_read_the_database_in_few_statements(
    client: TestClient, staffed: Instance, catalogue: Catalogue
) -> None:
    """The record page of a published record reads it, its 全宗, published form, texts and page
    count in ONE statement (it took nine); a page of public hits reads rows and masked values in
    one, and the masked texts in a second."""
    page = f"/portal/records/{catalogue.published}"
    search = ("/portal/search", {"q": "青铜鼎"})
    assert client.get(page).status_code == 200  # warm: caches, the visitor cookie
    assert client.get(search[0], params=search[1]).status_code == 200
    with contextmanager(_statements)(staffed) as seen:
        r = client.get(page)
    assert r.status_code == 200 and "/pages/1.jpg" in r.text
    assert len(seen) == 1, seen
    with contextmanager(_statements)(staffed) as seen:
        r = client.get(search[0], params=search[1])
    assert r.status_code == 200 and f"/portal/records/{catalogue.published}" in r.text
    assert len(seen) <= 2, seen


def test_page_counts_say_what_listing_the_pages_says(
    staffed: Instance, catalogue: Catalogue
) -> None:
    """The record page counts pages from the columns read with the record; the viewer lists
    them. Both agree for scans, a searchable PDF, born-digital files and nothing at all."""
    inst = staffed
    with inst.db.write() as s:
        batch = ScanBatch(uid="pdf", name="pdf", source_path="/x", package_id="p", created_by="t")
        transfer = IngestTransfer(
            uid="files", source_name="f", source_path="/x", state="done", created_by="t"
        )
        s.add_all([batch, transfer])
        s.flush()
        for pages in (2, 3):  # the latest searchable PDF counts
            s.add(
                ScanDerivative(
                    record_id=catalogue.published_other, batch_id=batch.id,
                    kind="searchable_pdf" if pages == 3 else "other", object_key="k",
                    size=1, sha256="0" * 64, pages=pages,
                )
            )  # fmt: skip
        # its scanned page does not decode: its born-digital files are what it shows
        s.execute(
            update(ScanPage)
            .where(ScanPage.record_id == catalogue.open_unpublished)
            .values(decodes=False)
        )
        for pos, name in enumerate(("a.png", "b.txt", "c.jpg")):
            s.add(
                RecordFile(
                    record_id=catalogue.open_unpublished, transfer_id=transfer.id, aip_id="aip",
                    path=f"data/{name}", position=pos, size=1, sha256="0" * 64, sm3="0" * 64,
                )
            )  # fmt: skip
    cases = {
        catalogue.published: 1,  # one scanned page
        catalogue.published_other: 3,
        catalogue.open_unpublished: 2,  # the two images
        catalogue.postponed + 10_000: 0,  # no such record: nothing at all
    }
    with inst.db.engine.connect() as conn, inst.db.read() as s:
        for record_id, expected in cases.items():
            row = conn.execute(
                select(*page_count_columns(Record.id)).where(Record.id == record_id)
            ).one_or_none()
            counts = page_counts(row) if row is not None else PageCounts(0, None, False)
            assert count_pages(inst, conn, record_id, counts) == expected, record_id
            assert len(list_pages(inst, s, record_id)) == expected, record_id
