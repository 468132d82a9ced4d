"""利用申请 submission is idempotent: the same key from the same account is one application.

The service on SQLite and PostgreSQL (a repeat, other content under the same key, no key, a lost
race on the unique index, two concurrent sends), the portal form's hidden token and the API's
``Idempotency-Key`` header (including a resend after the answer to a committed send was lost).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import lantai.access.requests as requests_mod
from access.conftest import Catalogue, id_number
from concurrency_support import failures, race
from lantai.access.accounts import Registration
from lantai.access.accounts import register as register_citizen
from lantai.access.config import load_access_config
from lantai.access.requests import Application, submit
from lantai.audit import EventType
from lantai.errors import Conflict, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import AccessRequest, Event, User

PASSWORD = "Citizen-Pass-2026!"
APP = Application("查阅", "权益维护", "查阅本人工龄档案", ("X-1",))
OTHER = Application("查阅", "权益维护", "查阅本人婚姻登记档案", ("X-1",))


def _citizen(inst: Instance, phone: str = "13800138000", body: str = "11010519800101123") -> Actor:
    with inst.db.write() as s:
        user = register_citizen(
            inst,
            s,
            Registration("王小明", id_number(body), phone, PASSWORD),
            password_hash="x",
        )
        return Actor(username=user.username, display_name=user.display_name, user_id=user.id)


def _submit(inst: Instance, actor: Actor, app: Application, key: str | None) -> int:
    with inst.db.write() as s:
        return submit(inst, s, actor, app, load_access_config(), key=key).id


def _counts(inst: Instance) -> tuple[int, int]:
    """(access requests, 'submitted' audit events)."""
    with inst.db.read() as s:
        rows = s.scalar(select(func.count()).select_from(AccessRequest))
        events = s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.action == EventType.ACCESS_REQUEST_SUBMITTED)
        )
    return int(rows or 0), int(events or 0)


def test_same_key_is_one_request_and_one_event(any_instance: Instance) -> None:
    actor = _citizen(any_instance)
    first = _submit(any_instance, actor, APP, "k-1")
    assert _submit(any_instance, actor, APP, "k-1") == first
    assert _counts(any_instance) == (1, 1)
    with pytest.raises(Conflict) as err:
        _submit(any_instance, actor, OTHER, "k-1")
    assert err.value.status == 409
    assert [(p.field, p.rule) for p in err.value.problems] == [("Idempotency-Key", "幂等键")]
    assert _counts(any_instance) == (1, 1)
    # another key, and no key at all (twice), are new requests as before
    assert _submit(any_instance, actor, APP, "k-2") != first
    a, b = _submit(any_instance, actor, APP, None), _submit(any_instance, actor, APP, None)
    assert a != b
    assert _counts(any_instance) == (4, 4)
    with pytest.raises(ValidationFailed):
        _submit(any_instance, actor, APP, "k" * 65)


def test_keys_are_per_account(any_instance: Instance) -> None:
    one, two = _citizen(any_instance), _citizen(any_instance, "13800138001", "11010519800101124")
    assert _submit(any_instance, one, APP, "same") != _submit(any_instance, two, APP, "same")
    assert _counts(any_instance) == (2, 2)


def test_lost_race_on_the_unique_index_returns_the_committed_request(
    any_instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send that loses the race passes the lookup, then meets the other's committed row."""
    actor = _citizen(any_instance)
    first = _submit(any_instance, actor, APP, "race")
    real = requests_mod._by_key
    calls: list[str] = []

    def late(session: Session, user_id: int, key: str) -> AccessRequest | None:
        calls.append(key)
        return None if len(calls) == 1 else real(session, user_id, key)

    monkeypatch.setattr(requests_mod, "_by_key", late)
    with any_instance.db.write() as s:
        assert submit(any_instance, s, actor, APP, load_access_config(), key="race").id == first
        # the transaction is still usable after the savepoint was rolled back
        assert s.scalar(select(func.count()).select_from(AccessRequest)) == 1
    assert len(calls) == 2
    assert _counts(any_instance) == (1, 1)
    calls.clear()
    with pytest.raises(Conflict):
        _submit(any_instance, actor, OTHER, "race")


def test_concurrent_identical_sends_make_one_request(any_instance: Instance) -> None:
    actor = _citizen(any_instance)
    ids = race(4, lambda _: _submit(any_instance, actor, APP, "double-click"))
    assert failures(ids) == [] and len(set(ids)) == 1
    assert _counts(any_instance) == (1, 1)


def _register_and_login(client: TestClient) -> str:
    """A registered citizen logged in on ``client``; returns the session's CSRF token."""
    body = {"real_name": "王小明", "id_number": id_number(), "phone": "13800138000"}
    r = client.post("/api/public/register", json={**body, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = client.post("/api/auth/login", json={"username": "13800138000", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def _form(html: str) -> dict[str, str]:
    form = html[html.index('action="/portal/mine/requests"') :]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def test_portal_form_sent_twice_is_one_application(
    client: TestClient, catalogue: Catalogue, staffed: Instance
) -> None:
    _register_and_login(client)
    page = client.get("/portal/mine")
    hidden = _form(page.text)
    assert len(hidden["submission_key"]) >= 32
    assert _form(client.get("/portal/mine").text)["submission_key"] != hidden["submission_key"]
    data = {**hidden, "kind": "查阅", "purpose": "权益维护", "description": "查阅本人工龄档案"}
    for _ in range(2):  # a double click, or a resend after the first answer was lost
        r = client.post("/portal/mine/requests", data=data, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/portal/mine#requests"
    assert _counts(staffed) == (1, 1)
    mine = client.get("/portal/mine").text
    assert mine.count('class="request-row"') == 1 and "查阅本人工龄档案" in mine
    # the same token with other content: the page says why and offers a fresh form
    r = client.post("/portal/mine/requests", data={**data, "description": "查阅本人婚姻档案"})
    assert r.status_code == 409 and 'data-field="Idempotency-Key"' in r.text
    assert _form(r.text)["submission_key"] != hidden["submission_key"]
    assert _counts(staffed) == (1, 1)


def test_api_idempotency_key_and_a_lost_answer(
    client: TestClient, catalogue: Catalogue, staffed: Instance
) -> None:
    csrf = _register_and_login(client)
    body = {"kind": "查阅", "purpose": "权益维护", "description": "查阅本人工龄档案"}
    headers = {"x-csrf-token": csrf, "Idempotency-Key": "api-1"}
    r1 = client.post("/api/access/mine/requests", json=body, headers=headers)
    r2 = client.post("/api/access/mine/requests", json=body, headers=headers)
    assert r1.status_code == r2.status_code == 201, r2.text
    assert r1.json()["id"] == r2.json()["id"]
    r = client.post(
        "/api/access/mine/requests", json={**body, "description": "另一份申请"}, headers=headers
    )
    assert r.status_code == 409, r.text
    assert [(e["field"], e["rule"]) for e in r.json()["errors"]] == [("Idempotency-Key", "幂等键")]
    r = client.post(
        "/api/access/mine/requests", json=body, headers={**headers, "Idempotency-Key": "x" * 65}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _counts(staffed) == (1, 1)
    # the server committed a send but its answer never reached the citizen: the resend finds it
    with staffed.db.read() as s:
        user = s.scalar(select(User).where(User.username == "13800138000"))
        assert user is not None
        actor = Actor(username=user.username, display_name=user.display_name, user_id=user.id)
    lost = _submit(staffed, actor, Application("查阅", "权益维护", "查阅本人学籍档案"), "api-2")
    r = client.post(
        "/api/access/mine/requests",
        json={**body, "description": "查阅本人学籍档案"},
        headers={**headers, "Idempotency-Key": "api-2"},
    )
    assert r.status_code == 201 and r.json()["id"] == lost
    assert _counts(staffed) == (2, 2)
    # without the header every send is a new application, as before
    for _ in range(2):
        r = client.post("/api/access/mine/requests", json=body, headers={"x-csrf-token": csrf})
        assert r.status_code == 201
    assert _counts(staffed) == (4, 4)
    assert len(client.get("/api/access/mine/requests").json()) == 4
