"""Authentication and session rules (issue 11 part 4), one test per rule.

- the session cookie is HttpOnly, SameSite=Strict, Path=/, lives ``session_hours``, and is Secure
  when ``cookie_secure`` (behind HTTPS);
- a session ends after its lifetime and after ``session_idle_minutes`` without use;
- every login issues a new random session token (a planted one is never adopted), and only its
  hash is stored;
- logout revokes the session on the server (the token is useless afterwards);
- passwords follow the policy; repeated failures lock the account for ``login_lockout_minutes``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import LoginSession, User, utcnow
from lantai.web.app import create_app
from lantai.web.deps import SESSION_COOKIE
from web_support import PASSWORD, login


def _set_cookies(response: object) -> dict[str, SimpleCookie]:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    out: dict[str, SimpleCookie] = {}
    for h in headers:
        c: SimpleCookie = SimpleCookie()
        c.load(h)
        for name in c:
            out[name] = c
    return out


def _api_login(client: TestClient, username: str = "archivist") -> tuple[str, object]:
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["token"]), r


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_session_cookie_flags(client: TestClient, web_instance: Instance) -> None:
    _, r = _api_login(client)
    morsel = _set_cookies(r)[SESSION_COOKIE][SESSION_COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) == int(web_instance.settings.session_hours * 3600)
    assert not morsel["secure"], "plain HTTP by default (cookie_secure=false)"
    # the login form's own anti-forgery cookie has the same flags
    page = client.get("/login")
    form_cookie = next(iter(_set_cookies(page).values()))
    m = next(iter(form_cookie.values()))
    assert m["httponly"] is True and m["samesite"].lower() == "strict"


def test_session_cookie_is_secure_behind_https(web_instance: Instance) -> None:
    web_instance.settings.cookie_secure = True
    with TestClient(create_app(web_instance), base_url="https://127.0.0.1") as c:
        _, r = _api_login(c)
        assert _set_cookies(r)[SESSION_COOKIE][SESSION_COOKIE]["secure"] is True
        page = c.get("/login")
        assert all(m["secure"] for jar in _set_cookies(page).values() for m in jar.values())
        # and the page login (form) sets the same Secure cookie
        token = page.cookies.get("lantai_login_csrf") or c.cookies.get("lantai_login_csrf")
        r = c.post(
            "/login",
            data={"username": "reader", "password": PASSWORD, "login_csrf": token, "next": "/"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert _set_cookies(r)[SESSION_COOKIE][SESSION_COOKIE]["secure"] is True


def test_sessions_expire_after_their_lifetime_and_when_idle(
    client: TestClient, web_instance: Instance
) -> None:
    settings = web_instance.settings
    idle = timedelta(minutes=settings.session_idle_minutes)
    token, _ = _api_login(client)
    digest = hashlib.sha256(token.encode()).hexdigest()

    def age(**values: object) -> None:
        with web_instance.db.write() as s:
            s.execute(update(LoginSession).where(LoginSession.id == digest).values(**values))

    assert _me(client, token) == 200
    # used a little before the idle limit: still alive, and the use is recorded
    age(last_seen_at=utcnow() - idle + timedelta(minutes=5))
    assert _me(client, token) == 200
    with web_instance.db.read() as s:
        seen = s.scalar(select(LoginSession.last_seen_at).where(LoginSession.id == digest))
    assert seen is not None and utcnow() - seen < timedelta(minutes=1)
    # unused for the idle limit: gone
    age(last_seen_at=utcnow() - idle - timedelta(seconds=1))
    assert _me(client, token) == 401
    # a fresh session past its absolute lifetime: gone even though it was just used
    token2, _ = _api_login(client)
    digest = hashlib.sha256(token2.encode()).hexdigest()
    assert _me(client, token2) == 200
    age(expires_at=utcnow() - timedelta(seconds=1))
    assert _me(client, token2) == 401


def test_login_issues_a_new_session_and_never_adopts_a_planted_one(
    client: TestClient, web_instance: Instance
) -> None:
    planted = "attacker-chosen-session-value-0123456789abcdef"
    client.cookies.set(SESSION_COOKIE, planted)
    token1, r1 = _api_login(client)
    assert token1 != planted
    assert _set_cookies(r1)[SESSION_COOKIE][SESSION_COOKIE].value == token1
    assert _me(client, planted) == 401
    token2, r2 = _api_login(client)
    assert token2 != token1
    assert r2.json()["csrf_token"] != r1.json()["csrf_token"]  # type: ignore[attr-defined]
    assert len(token1) >= 43  # 256 random bits
    # only the hash of a token is stored
    with web_instance.db.read() as s:
        ids = set(s.scalars(select(LoginSession.id)))
    assert token1 not in ids and hashlib.sha256(token1.encode()).hexdigest() in ids


def test_logout_revokes_the_session_on_the_server(
    client: TestClient, web_instance: Instance
) -> None:
    csrf = login(client, "archivist")
    token = client.cookies.get(SESSION_COOKIE)
    assert token and _me(client, token) == 200
    r = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    # a copy of the cookie taken before logout no longer works, as cookie or as bearer
    assert _me(client, token) == 401
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/api/auth/me").status_code == 401
    with web_instance.db.read() as s:
        row = s.get(LoginSession, hashlib.sha256(token.encode()).hexdigest())
    assert row is not None and row.revoked
    # the page logout (form with the CSRF field) does the same
    client.cookies.clear()
    csrf = login(client, "reader")
    token = client.cookies.get(SESSION_COOKIE)
    assert token
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert _me(client, token) == 401


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Short1!", "至少 10 个字符"),
        ("alllowercaseletters", "至少三类"),
        ("Newuser-2026!", "不得包含用户名"),
    ],
)
def test_password_policy_is_enforced_on_account_creation(
    client: TestClient, password: str, rule: str
) -> None:
    csrf = login(client, "admin")
    body = {"username": "newuser", "display_name": "新用户", "password": password}
    r = client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422, r.text
    problems = r.json()["errors"]
    assert any(p["field"] == "口令" and rule in p["message"] for p in problems), problems
    ok = client.post(
        "/api/users", json=body | {"password": "Gd-Pass-2026x"}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status_code == 201


def test_repeated_failures_lock_the_account_for_a_while(
    client: TestClient, web_instance: Instance
) -> None:
    limit = web_instance.settings.login_max_failures
    for _ in range(limit - 1):
        r = client.post("/api/auth/login", json={"username": "reader", "password": "wrong-1A!"})
        assert r.status_code == 401 and r.json()["error"] == "用户名或口令错误"
    # still one try left: the right password works and resets the count
    _api_login(client, "reader")
    for _ in range(limit):
        client.post("/api/auth/login", json={"username": "reader", "password": "wrong-1A!"})
    r = client.post("/api/auth/login", json={"username": "reader", "password": PASSWORD})
    assert r.status_code == 401 and "锁定" in r.json()["error"]
    with web_instance.db.read() as s:
        user = s.scalar(select(User).where(User.username == "reader"))
        assert user is not None and user.locked_until is not None
        remaining = user.locked_until - utcnow()
    assert timedelta(minutes=web_instance.settings.login_lockout_minutes - 1) < remaining
    # the lock ends by itself
    with web_instance.db.write() as s:
        s.execute(
            update(User)
            .where(User.username == "reader")
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    _api_login(client, "reader")
    # every failure is in the audit log, the lock included
    login(client, "auditor")
    events = client.get(
        "/api/audit/events", params={"action": "security:login:failed", "limit": 100}
    ).json()["items"]
    details = [json.loads(e["detail"]) for e in events if e["actor"] == "reader"]
    reasons = [d.get("reason") for d in details]
    assert reasons.count("locked_now") == 1 and "locked" in reasons


def test_an_unknown_user_is_answered_like_a_wrong_password(client: TestClient) -> None:
    a = client.post("/api/auth/login", json={"username": "ghost", "password": "x"})
    b = client.post("/api/auth/login", json={"username": "reader", "password": "x"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_disabled_account_sessions_stop_working(client: TestClient, web_instance: Instance) -> None:
    token, _ = _api_login(client, "reader")
    with web_instance.db.write() as s:
        web_instance.users.set_active(s, Actor.operator(), "reader", False)
    assert _me(client, token) == 401
