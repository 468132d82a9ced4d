"""Request dependencies: the instance, the actor, and the permission every route declares.

Each route takes ``actor: Actor = require(Perm.X)``. :class:`Requirement` resolves the session
(cookie or ``Authorization: Bearer``), checks the permission, and, for unsafe methods on a
cookie session, checks the CSRF token (``X-CSRF-Token`` header or ``csrf_token`` form field).
``tests/web/test_permissions.py`` walks the route table and fails for any route without exactly
one Requirement.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from lantai.audit import EventType, Outcome
from lantai.errors import AuthenticationRequired, PermissionDenied
from lantai.instance import Instance
from lantai.security import Actor, Perm

__all__ = [
    "CSRF_FORM_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Requirement",
    "get_instance",
    "require",
    "resolve_actor",
]

SESSION_COOKIE = "lantai_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_instance(request: Request) -> Instance:
    inst: Instance = request.app.state.instance
    return inst


def _token(request: Request) -> tuple[str | None, bool]:
    """(token, from_cookie)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def _lookup(inst: Instance, token: str) -> Actor | None:
    with inst.db.read() as s:
        found = inst.sessions.resolve(s, token)
        if found is None:
            return None
        row, user = found
        actor = inst.users.actor_for(s, user, session_id=row.id, csrf=row.csrf_token)
    if inst.sessions.needs_touch(row):
        with inst.db.write() as s:
            inst.sessions.touch(s, row)
    return actor


async def resolve_actor(request: Request) -> tuple[Actor, bool]:
    """The request's actor (anonymous when there is no valid session) and whether a cookie was used."""
    cached = getattr(request.state, "actor", None)
    if cached is not None:
        return cached, bool(getattr(request.state, "via_cookie", False))
    token, via_cookie = _token(request)
    actor: Actor | None = None
    if token:
        actor = await run_in_threadpool(_lookup, get_instance(request), token)
    if actor is None:
        actor, via_cookie = Actor.anonymous(), False
    request.state.actor = actor
    request.state.via_cookie = via_cookie
    return actor, via_cookie


async def _check_csrf(request: Request, actor: Actor) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FORM_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, actor.csrf_token):
        raise PermissionDenied("请求缺少有效的 CSRF 令牌，请刷新页面后重试")


def _log_denied(inst: Instance, actor: Actor, perm: Perm, path: str) -> None:
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.SECURITY_ACCESS_DENIED,
            object_type="endpoint",
            object_id=path[:64],
            outcome=Outcome.FAILURE,
            detail={"permission": perm.value},
        )


class Requirement:
    """Dependency that yields the actor after checking ``perm`` (and CSRF where it applies)."""

    def __init__(self, perm: Perm) -> None:
        self.perm = perm

    def __repr__(self) -> str:
        return f"Requirement({self.perm.value})"

    async def __call__(self, request: Request) -> Actor:
        actor, via_cookie = await resolve_actor(request)
        if self.perm is Perm.PUBLIC:
            return actor
        if actor.user_id is None:
            raise AuthenticationRequired("请先登录")
        if via_cookie and request.method not in SAFE_METHODS:
            await _check_csrf(request, actor)
        if not actor.can(self.perm):
            await run_in_threadpool(
                _log_denied, get_instance(request), actor, self.perm, request.url.path
            )
            raise PermissionDenied(f"您没有「{self.perm.label}」权限")
        return actor


def require(perm: Perm) -> Any:
    """``actor: Actor = require(Perm.X)`` — the one way a route declares its permission."""
    return Depends(Requirement(perm))
