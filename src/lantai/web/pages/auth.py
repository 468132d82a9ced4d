"""Login and logout pages."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from lantai.audit import EventType
from lantai.errors import AuthenticationRequired, PermissionDenied
from lantai.security import Actor, Perm
from lantai.web.api.auth import set_session_cookie, start_session
from lantai.web.deps import SESSION_COOKIE, get_instance, require
from lantai.web.pages.render import landing, render, safe_next

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "lantai_login_csrf"


@router.get("/", summary="首页")
def home(request: Request, actor: Actor = require(Perm.PUBLIC)) -> Response:
    return RedirectResponse(landing(actor) if actor.user_id else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next: str | None = None, actor: Actor = require(Perm.PUBLIC)
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", actor, login_csrf=token, next=safe_next(next), error=None
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=get_instance(request).settings.cookie_secure,
    )
    return response


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    login_csrf: Annotated[str, Form(max_length=100)],
    next: Annotated[str, Form(max_length=500)] = "/",
    actor: Actor = require(Perm.PUBLIC),
) -> Response:
    inst = get_instance(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, login_csrf):
        raise PermissionDenied("登录表单已失效，请刷新页面后重试")
    client = f"{request.client.host if request.client else '-'} {request.headers.get('user-agent', '')[:150]}"
    try:
        token, _ = await run_in_threadpool(start_session, inst, username, password, client)
    except AuthenticationRequired as exc:
        fresh = secrets.token_urlsafe(24)
        page = render(
            request,
            "login.html",
            actor,
            login_csrf=fresh,
            next=safe_next(next),
            error=exc.message,
            username=username,
            status_code=401,
        )
        page.set_cookie(
            LOGIN_CSRF_COOKIE,
            fresh,
            httponly=True,
            samesite="strict",
            secure=inst.settings.cookie_secure,
        )
        return page
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(inst, response, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, actor: Actor = require(Perm.AUTHENTICATED)) -> Response:
    inst = get_instance(request)
    with inst.db.write() as s:
        inst.sessions.revoke(s, request.cookies.get(SESSION_COOKIE, ""))
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.SECURITY_LOGOUT,
            object_type="user",
            object_id=actor.username,
        )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
