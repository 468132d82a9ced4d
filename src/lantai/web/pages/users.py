"""Users and permissions page: accounts (系统管理员), roles and clearances (安全保密员)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lantai.errors import LantaiError
from lantai.security import Actor, Perm
from lantai.web.deps import get_instance, require
from lantai.web.pages.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Username = Annotated[str, Path(min_length=1, max_length=64)]


def _page(
    request: Request, actor: Actor, *, error: LantaiError | None = None, status_code: int = 200
) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        users = inst.users.list_users(s)
    return render(
        request,
        "users.html",
        actor,
        status_code=status_code,
        users=users,
        roles=[(name, r.label, r.description) for name, r in inst.roles.roles.items()],
        role_label=inst.roles.label,
        levels=inst.domain.table("security_level").codes(),
        error=error,
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, actor: Actor = require(Perm.SYSTEM_USER_READ)) -> Response:
    return _page(request, actor)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    display_name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=256)],
    actor: Actor = require(Perm.SYSTEM_USER_MANAGE),
) -> Response:
    inst = get_instance(request)
    try:
        with inst.db.write() as s:
            inst.users.create(
                s, actor, username=username, display_name=display_name, password=password
            )
    except LantaiError as exc:
        return _page(request, actor, error=exc, status_code=exc.status)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{username}/roles", response_class=HTMLResponse)
async def set_roles(
    username: Username, request: Request, actor: Actor = require(Perm.SECURITY_ROLE_ASSIGN)
) -> Response:
    inst = get_instance(request)
    form = await request.form()
    roles = tuple(v for v in form.getlist("roles") if isinstance(v, str))
    try:
        with inst.db.write() as s:
            inst.users.set_roles(s, actor, username, roles)
    except LantaiError as exc:
        return _page(request, actor, error=exc, status_code=exc.status)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{username}/clearance", response_class=HTMLResponse)
def set_clearance(
    username: Username,
    request: Request,
    clearance: Annotated[str, Form(max_length=16)],
    actor: Actor = require(Perm.SECURITY_CLEARANCE_ASSIGN),
) -> Response:
    inst = get_instance(request)
    try:
        with inst.db.write() as s:
            inst.users.set_clearance(s, actor, username, clearance)
    except LantaiError as exc:
        return _page(request, actor, error=exc, status_code=exc.status)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{username}/active", response_class=HTMLResponse)
def set_active(
    username: Username,
    request: Request,
    active: Annotated[str, Form(max_length=5)],
    actor: Actor = require(Perm.SYSTEM_USER_MANAGE),
) -> Response:
    inst = get_instance(request)
    try:
        with inst.db.write() as s:
            inst.users.set_active(s, actor, username, active == "1")
    except LantaiError as exc:
        return _page(request, actor, error=exc, status_code=exc.status)
    return RedirectResponse("/users", status_code=303)
