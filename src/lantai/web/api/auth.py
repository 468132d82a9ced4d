"""Login, logout and the current user."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from lantai.audit import EventType
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import User
from lantai.web.api.schemas import ErrorOut, LoginIn, LoginOut, UserOut
from lantai.web.deps import SESSION_COOKIE, get_instance, require

__all__ = ["router", "start_session", "user_out"]

router = APIRouter(prefix="/api/auth", tags=["认证"], responses={401: {"model": ErrorOut}})


def user_out(inst: Instance, actor: Actor) -> UserOut:
    return UserOut(
        username=actor.username,
        display_name=actor.display_name,
        roles=sorted(actor.roles),
        role_labels=[inst.roles.label(r) for r in sorted(actor.roles)],
        clearance=actor.clearance,
        permissions=sorted(p.value for p in actor.permissions),
    )


def start_session(inst: Instance, username: str, password: str, client: str) -> tuple[str, Actor]:
    """Authenticate and open a session; the failure event is committed even though login fails."""
    user: User | None = None
    failure: Exception | None = None
    with inst.db.read() as s:  # the password hash is checked before the write transaction
        checked = inst.users.check_password(s, username, password)
    with inst.db.write() as s:
        try:
            user = inst.users.authenticate(s, username, password, client=client, checked=checked)
        except Exception as exc:  # committed below with the failure event
            failure = exc
        if user is not None:
            token, row = inst.sessions.create(s, user, client=client)
            actor = inst.users.actor_for(s, user, session_id=row.id, csrf=row.csrf_token)
    if failure is not None:
        raise failure
    return token, actor


def set_session_cookie(inst: Instance, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(inst.settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=inst.settings.cookie_secure,
        path="/",
    )


def _client(request: Request) -> str:
    host = request.client.host if request.client else "-"
    return f"{host} {request.headers.get('user-agent', '')[:150]}"


@router.post("/login", response_model=LoginOut, summary="登录")
async def login(
    body: LoginIn, request: Request, response: Response, _: Actor = require(Perm.PUBLIC)
) -> LoginOut:
    inst = get_instance(request)
    token, actor = await run_in_threadpool(
        start_session, inst, body.username, body.password, _client(request)
    )
    set_session_cookie(inst, response, token)
    return LoginOut(token=token, csrf_token=actor.csrf_token, user=user_out(inst, actor))


@router.post("/logout", status_code=204, summary="退出登录")
def logout(
    request: Request, response: Response, actor: Actor = require(Perm.AUTHENTICATED)
) -> Response:
    inst = get_instance(request)
    token = request.cookies.get(SESSION_COOKIE) or request.headers.get("authorization", "")[7:]
    with inst.db.write() as s:
        inst.sessions.revoke(s, token)
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.SECURITY_LOGOUT,
            object_type="user",
            object_id=actor.username,
        )
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    return out


@router.get("/me", response_model=UserOut, summary="当前用户")
def me(request: Request, actor: Actor = require(Perm.AUTHENTICATED)) -> UserOut:
    return user_out(get_instance(request), actor)
