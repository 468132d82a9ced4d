"""User accounts (系统管理员), roles and clearances (安全保密员)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from lantai.security import Actor, Perm
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["router"]

router = APIRouter(
    prefix="/api/users",
    tags=["用户"],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
)

Username = Annotated[str, Path(min_length=1, max_length=64)]


class CreateUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=256)


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: list[str] = Field(max_length=10)


class ClearanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    clearance: str = Field(min_length=1, max_length=16)


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


@router.get("", summary="用户列表")
def list_users(
    request: Request, actor: Actor = require(Perm.SYSTEM_USER_READ)
) -> list[dict[str, Any]]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return [
            {
                "username": u.username,
                "display_name": u.display_name,
                "roles": roles,
                "role_labels": [inst.roles.label(r) for r in roles],
                "clearance": u.clearance,
                "active": u.is_active,
            }
            for u, roles in inst.users.list_users(s)
        ]


@router.post("", status_code=201, summary="创建用户（系统管理员）")
def create_user(
    body: CreateUserIn, request: Request, actor: Actor = require(Perm.SYSTEM_USER_MANAGE)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        user = inst.users.create(
            s, actor, username=body.username, display_name=body.display_name, password=body.password
        )
        return {"username": user.username, "display_name": user.display_name}


@router.put("/{username}/roles", summary="分配角色（安全保密员）")
def set_roles(
    username: Username,
    body: RolesIn,
    request: Request,
    actor: Actor = require(Perm.SECURITY_ROLE_ASSIGN),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        roles = inst.users.set_roles(s, actor, username, tuple(body.roles))
    return {"username": username, "roles": roles}


@router.put("/{username}/clearance", summary="设置密级授权（安全保密员）")
def set_clearance(
    username: Username,
    body: ClearanceIn,
    request: Request,
    actor: Actor = require(Perm.SECURITY_CLEARANCE_ASSIGN),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        inst.users.set_clearance(s, actor, username, body.clearance)
    return {"username": username, "clearance": body.clearance}


@router.put("/{username}/active", summary="启用或停用账号（系统管理员）")
def set_active(
    username: Username,
    body: ActiveIn,
    request: Request,
    actor: Actor = require(Perm.SYSTEM_USER_MANAGE),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        inst.users.set_active(s, actor, username, body.active)
    return {"username": username, "active": body.active}
