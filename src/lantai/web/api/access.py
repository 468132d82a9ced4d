"""档案利用 API: the staff back office (/api/access/…) and the citizen's own requests.

Staff (``access:request:review``): the requests queue with filters, approve (records + term) or
refuse (reason), reading-room bookings per slot, recording a 到馆 use (visit, copy, certificate).
Staff (``access:use:read``): the use log and its totals (人次, 卷（件）次, purposes, channels).
Citizens (``access:portal:self``): their requests and bookings. Public: registration (rate-limited).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi import Path as FPath
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from lantai.access.accounts import Registration, register
from lantai.access.requests import KEY_MAX, Application, approve, refuse, submit
from lantai.access.uselog import KINDS, Use, log_use, totals
from lantai.audit import EventType
from lantai.errors import NotFound, Problem, ValidationFailed
from lantai.security import Actor, Perm
from lantai.store import AccessRequest, Citizen, ReadingAppointment, Record, UseLog
from lantai.web.api.schemas import DbId, ErrorOut, IsoDate
from lantai.web.deps import get_instance, require
from lantai.web.pages.portal import access_config
from lantai.web.ratelimit import limit

__all__ = ["public_router", "router"]

_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    429: {"model": ErrorOut},
}
router = APIRouter(prefix="/api/access", tags=["档案利用"], responses=_RESPONSES)
public_router = APIRouter(prefix="/api/public", tags=["公众利用"], responses=_RESPONSES)


class RegisterIn(BaseModel):
    real_name: str = Field(max_length=100)
    id_number: str = Field(max_length=40)
    phone: str = Field(max_length=20)
    password: str = Field(max_length=256)
    user_type: str = Field("个人", max_length=8)
    unit_name: str = Field("", max_length=200)


class RequestIn(BaseModel):
    kind: str = Field(max_length=16)
    purpose: str = Field(max_length=16)
    description: str = Field(max_length=4000)
    archival_codes: list[str] = Field(default_factory=list, max_length=50)
    record_ids: list[DbId] = Field(default_factory=list, max_length=50)
    pages: str = Field("", max_length=100)


class ApproveIn(BaseModel):
    record_ids: list[DbId] = Field(max_length=500)
    days: int | None = Field(None, description="有效期（天）；缺省为配置的 grant_days")
    reason: str = Field("", max_length=2000)
    pages: str | None = Field(
        None,
        max_length=200,
        description="出具证明/复制：替换申请人填写的页码（「1-3」或「档号:1-3；档号:5」）",
    )


class RefuseIn(BaseModel):
    reason: str = Field(max_length=2000)


class UseIn(BaseModel):
    kind: str = Field(description="visit | copy | certificate | download")
    record_ids: list[DbId] = Field(max_length=500)
    request_id: DbId | None = None
    visitor: str = Field("", max_length=60, description="无账号的到馆利用者（姓名或证件后四位）")
    purpose: str = Field("其他", max_length=16)
    user_type: str = Field("个人", max_length=8)
    pages: int = Field(0, ge=0, le=100000)


def request_json(
    req: AccessRequest, citizen: Citizen | None, candidates: list[Record] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": req.id,
        "kind": req.kind,
        "purpose": req.purpose,
        "user_type": req.user_type,
        "unit_name": req.unit_name,
        "description": req.description,
        "archival_codes": req.archival_codes,
        "record_ids": req.record_ids,
        "pages": req.pages,
        "status": req.status,
        "reviewer": req.reviewer,
        "reviewed_at": req.reviewed_at.isoformat() if req.reviewed_at else None,
        "reason": req.reason,
        "granted_ids": req.granted_ids,
        "expires_at": req.expires_at.isoformat() if req.expires_at else None,
        "certificate_code": req.certificate_code,
        "created_at": req.created_at.isoformat(),
    }
    if citizen is not None:
        out["applicant"] = {
            "name": citizen.real_name,
            "id_masked": citizen.id_masked,
            "phone": citizen.phone,
        }
    if candidates is not None:
        out["candidates"] = [
            {
                "id": r.id,
                "archival_code": r.archival_code,
                "title": r.title,
                "open_status": r.open_status,
                "security_level": r.security_level,
            }
            for r in candidates
        ]
    return out


def _candidates(s: Any, req: AccessRequest) -> list[Record]:
    codes = [c for c in req.archival_codes if c]
    ids = list(req.record_ids)
    if not codes and not ids:
        return []
    q = select(Record).where((Record.archival_code.in_(codes)) | (Record.id.in_(ids))).limit(200)
    return list(s.scalars(q))


@public_router.post("/register", summary="公众实名注册", status_code=201)
def register_api(
    request: Request,
    body: RegisterIn,
    _: Actor = require(Perm.PUBLIC),
    __: None = limit("register"),
) -> dict[str, Any]:
    inst = get_instance(request)
    hashed = inst.users.hashing.hash(body.password)  # not in the write transaction
    with inst.db.write() as s:
        user = register(
            inst,
            s,
            Registration(
                body.real_name,
                body.id_number,
                body.phone,
                body.password,
                body.user_type,
                body.unit_name,
            ),
            password_hash=hashed,
        )
        return {"ok": True, "username": user.username}


@router.get("/mine/requests", summary="我的利用申请")
def my_requests(
    request: Request, actor: Actor = require(Perm.ACCESS_PORTAL_SELF)
) -> list[dict[str, Any]]:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows = s.scalars(
            select(AccessRequest)
            .where(AccessRequest.user_id == actor.user_id)
            .order_by(AccessRequest.id.desc())
        )
        return [request_json(r, None) for r in rows]


@router.post("/mine/requests", summary="提交利用申请", status_code=201)
def my_request_submit(
    request: Request,
    body: RequestIn,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description=f"客户端生成的幂等键（1–{KEY_MAX} 个可打印 ASCII 字符）："
            "同一账号以同一键重复提交，返回已有的申请而不新建；同一键、内容不同时答 409",
        ),
    ] = None,
    actor: Actor = require(Perm.ACCESS_PORTAL_SELF),
    _: None = limit("apply"),
) -> dict[str, Any]:
    inst = get_instance(request)
    app = Application(
        body.kind,
        body.purpose,
        body.description,
        tuple(body.archival_codes),
        tuple(body.record_ids),
        body.pages,
    )
    with inst.db.write() as s:
        req = submit(inst, s, actor, app, access_config(inst), key=idempotency_key)
        return request_json(req, None)


@router.get("/requests", summary="利用申请队列（可按状态、类型、目的筛选）")
def queue(
    request: Request,
    status: Annotated[str, Query(max_length=12)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    purpose: Annotated[str, Query(max_length=16)] = "",
    limit_: Annotated[int, Query(alias="limit", ge=1, le=500)] = 100,
    _: Actor = require(Perm.ACCESS_REQUEST_REVIEW),
) -> list[dict[str, Any]]:
    inst = get_instance(request)
    q = select(AccessRequest, Citizen).join(Citizen, Citizen.user_id == AccessRequest.user_id)
    for col, value in (
        (AccessRequest.status, status),
        (AccessRequest.kind, kind),
        (AccessRequest.purpose, purpose),
    ):
        if value:
            q = q.where(col == value)
    with inst.db.read() as s:
        return [
            request_json(r, c, _candidates(s, r))
            for r, c in s.execute(q.order_by(AccessRequest.created_at.desc()).limit(limit_))
        ]


@router.post("/requests/{request_id}/approve", summary="批准利用申请（批准的条目与有效期）")
def approve_api(
    request: Request,
    request_id: Annotated[int, FPath(ge=1, le=2**62)],
    body: ApproveIn,
    actor: Actor = require(Perm.ACCESS_REQUEST_REVIEW),
) -> dict[str, Any]:
    inst = get_instance(request)
    days = body.days or access_config(inst).grant_days
    with inst.db.write() as s:
        req = approve(
            inst,
            s,
            actor,
            request_id,
            body.record_ids,
            days=days,
            reason=body.reason,
            pages=body.pages,
        )
        return request_json(req, s.get(Citizen, req.user_id))


@router.post("/requests/{request_id}/refuse", summary="拒绝利用申请（须说明理由）")
def refuse_api(
    request: Request,
    request_id: Annotated[int, FPath(ge=1, le=2**62)],
    body: RefuseIn,
    actor: Actor = require(Perm.ACCESS_REQUEST_REVIEW),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        req = refuse(inst, s, actor, request_id, body.reason)
        return request_json(req, s.get(Citizen, req.user_id))


@router.get("/appointments", summary="阅览预约（按日期与时段）")
def appointments(
    request: Request,
    day: Annotated[IsoDate | None, Query()] = None,
    _: Actor = require(Perm.ACCESS_REQUEST_REVIEW),
) -> dict[str, Any]:
    inst = get_instance(request)
    cfg = access_config(inst)
    with inst.db.read() as s:
        q = select(ReadingAppointment, Citizen).join(
            Citizen, Citizen.user_id == ReadingAppointment.user_id
        )
        if day is not None:
            q = q.where(ReadingAppointment.day == day)
        slots: dict[str, dict[str, Any]] = {}
        for a, c in s.execute(
            q.order_by(
                ReadingAppointment.day, ReadingAppointment.slot, ReadingAppointment.id
            ).limit(2000)
        ):
            key = f"{a.day.isoformat()} {a.slot}"
            slot = cfg.slot(a.slot)
            entry = slots.setdefault(
                key,
                {
                    "day": a.day.isoformat(),
                    "slot": a.slot,
                    "label": slot.label if slot else a.slot,
                    "capacity": slot.capacity if slot else None,
                    "appointments": [],
                },
            )
            entry["appointments"].append(
                {"id": a.id, "name": c.real_name, "phone": c.phone, "status": a.status}
            )
        return {"slots": list(slots.values())}


@router.post("/uses", summary="登记到馆利用（阅览、复制、出具证明）", status_code=201)
def record_use(
    request: Request, body: UseIn, actor: Actor = require(Perm.ACCESS_REQUEST_REVIEW)
) -> dict[str, Any]:
    inst = get_instance(request)
    cfg = access_config(inst)
    if body.kind not in KINDS or body.kind == "view":
        raise ValidationFailed(
            "利用方式无效",
            [
                Problem(
                    field="kind",
                    value=body.kind,
                    rule="利用方式",
                    message="到馆登记的利用方式须为 visit、copy、certificate 或 download",
                )
            ],
        )
    with inst.db.write() as s:
        if body.request_id is not None:
            req = s.get(AccessRequest, body.request_id)
            if req is None:
                raise NotFound(f"利用申请 {body.request_id} 不存在")
            person, user_id, purpose, user_type = (
                f"user:{req.user_id}",
                req.user_id,
                req.purpose,
                req.user_type,
            )
        else:
            if not body.visitor.strip():
                raise ValidationFailed(
                    "缺少利用者",
                    [Problem(field="visitor", rule="利用者", message="无申请编号时须填写利用者")],
                )
            if body.purpose not in cfg.purposes.get(body.user_type, []):  # type: ignore[call-overload]
                raise ValidationFailed(
                    "利用目的无效",
                    [
                        Problem(
                            field="purpose",
                            value=body.purpose,
                            rule="利用目的",
                            message="利用目的与用户类型不符",
                        )
                    ],
                )
            person, user_id, purpose, user_type = (
                f"walkin:{body.visitor.strip()}",
                None,
                body.purpose,
                body.user_type,
            )
        found = set(s.scalars(select(Record.id).where(Record.id.in_(body.record_ids))))
        if not body.record_ids or found != set(body.record_ids):
            raise ValidationFailed(
                "条目无效", [Problem(field="record_ids", rule="条目", message="请填写存在的条目")]
            )
        logged = 0
        for i, rid in enumerate(sorted(found)):
            logged += log_use(
                s,
                Use(
                    person=person,
                    user_id=user_id,
                    user_type=user_type,
                    purpose=purpose,
                    channel="到馆",
                    kind=body.kind,
                    record_id=rid,
                    request_id=body.request_id,
                    pages=body.pages if i == 0 else 0,
                ),
            )
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.ACCESS_USE_RECORDED,
            object_type="use",
            object_id=person[:64],
            detail={"kind": body.kind, "record_ids": sorted(found), "pages": body.pages},
        )
        return {"ok": True, "logged": logged}


@router.get("/uses", summary="利用登记（最近的记录）")
def uses(
    request: Request,
    limit_: Annotated[int, Query(alias="limit", ge=1, le=1000)] = 200,
    _: Actor = require(Perm.ACCESS_USE_READ),
) -> list[dict[str, Any]]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return [
            {
                "id": u.id,
                "at": u.at.isoformat(),
                "person": u.person,
                "user_type": u.user_type,
                "purpose": u.purpose,
                "channel": u.channel,
                "kind": u.kind,
                "record_id": u.record_id,
                "request_id": u.request_id,
                "pages": u.pages,
            }
            for u in s.scalars(select(UseLog).order_by(UseLog.id.desc()).limit(limit_))
        ]


@router.get("/uses/totals", summary="利用统计：人次、卷（件）次、目的、渠道")
def use_totals(
    request: Request,
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
    channel: Annotated[str, Query(max_length=8)] = "",
    _: Actor = require(Perm.ACCESS_USE_READ),
) -> dict[str, Any]:
    inst = get_instance(request)
    today = datetime.now(UTC).date()
    start = start or date(today.year, 1, 1)
    end = end or today
    with inst.db.read() as s:
        out = totals(s, start, end, channel=channel or None)
        out["rows"] = int(s.scalar(select(func.count()).select_from(UseLog)) or 0)
    return {"start": start.isoformat(), "end": end.isoformat(), **out}
