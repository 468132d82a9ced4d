"""Fonds and records: read, page children, create, edit, withdraw, history."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.audit.events import EventType
from lantai.security import Actor, Perm
from lantai.store import Event
from lantai.web.api.schemas import (
    ChildrenOut,
    CreateFondsIn,
    CreateRecordIn,
    ErrorOut,
    RecordOut,
    UpdateRecordIn,
    WithdrawIn,
    record_out,
)
from lantai.web.deps import get_instance, require

__all__ = ["router"]

router = APIRouter(
    prefix="/api",
    tags=["目录"],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},  # a concurrent change, a withdrawn or non-empty entry
        422: {"model": ErrorOut},
    },
)

RecordId = Annotated[int, Path(ge=1, le=2**62, description="条目 ID")]
Cursor = Annotated[str | None, Query(max_length=100, description="上一页返回的 next_cursor")]
Limit = Annotated[int, Query(ge=1, le=500)]


def _children(
    request: Request, actor: Actor, parent_id: int | None, cursor: str | None, limit: int
) -> ChildrenOut:
    inst = get_instance(request)
    with inst.db.read() as s:
        page = inst.catalogue.children(s, actor, parent_id, cursor=cursor, limit=limit)
        items = [
            record_out(r, inst.domain, has_children=page.has_children.get(r.id)) for r in page.items
        ]
    return ChildrenOut(items=items, next_cursor=page.next_cursor, total=page.total)


@router.get("/fonds", response_model=ChildrenOut, summary="全宗列表（分页）")
def list_fonds(
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 50,
    actor: Actor = require(Perm.CATALOGUE_RECORD_READ),
) -> ChildrenOut:
    return _children(request, actor, None, cursor, limit)


@router.post("/fonds", response_model=RecordOut, status_code=201, summary="新建全宗")
def create_fonds(
    body: CreateFondsIn, request: Request, actor: Actor = require(Perm.CATALOGUE_FONDS_MANAGE)
) -> RecordOut:
    inst = get_instance(request)
    with inst.db.write() as s:
        rec = inst.catalogue.create_fonds(
            s,
            actor,
            code=body.code,
            name=body.name,
            responsible=body.responsible,
            values=body.values,
        )
        out = record_out(rec, inst.domain, detail=True)
    return out


@router.get("/records/by-code", response_model=RecordOut, summary="按档号精确查找")
def by_code(
    request: Request,
    code: Annotated[str, Query(min_length=1, max_length=128, description="档号")],
    actor: Actor = require(Perm.CATALOGUE_RECORD_READ),
) -> RecordOut:
    inst = get_instance(request)
    with inst.db.read() as s:
        return record_out(inst.catalogue.get_by_code(s, actor, code), inst.domain, detail=True)


@router.get("/records/{record_id}", response_model=RecordOut, summary="条目详情")
def get_record(
    record_id: RecordId, request: Request, actor: Actor = require(Perm.CATALOGUE_RECORD_READ)
) -> RecordOut:
    inst = get_instance(request)
    with inst.db.read() as s:
        return record_out(inst.catalogue.get(s, actor, record_id), inst.domain, detail=True)


@router.get(
    "/records/{record_id}/ancestors", response_model=list[RecordOut], summary="上级条目（自全宗起）"
)
def get_ancestors(
    record_id: RecordId, request: Request, actor: Actor = require(Perm.CATALOGUE_RECORD_READ)
) -> list[RecordOut]:
    inst = get_instance(request)
    with inst.db.read() as s:
        inst.catalogue.get(s, actor, record_id)
        return [record_out(r, inst.domain) for r in inst.catalogue.ancestors(s, record_id)]


@router.get("/records/{record_id}/children", response_model=ChildrenOut, summary="下级条目（分页）")
def get_children(
    record_id: RecordId,
    request: Request,
    cursor: Cursor = None,
    limit: Limit = 50,
    actor: Actor = require(Perm.CATALOGUE_RECORD_READ),
) -> ChildrenOut:
    return _children(request, actor, record_id, cursor, limit)


@router.post(
    "/records/{record_id}/children",
    response_model=RecordOut,
    status_code=201,
    summary="新增下级条目",
)
def create_child(
    record_id: RecordId,
    body: CreateRecordIn,
    request: Request,
    actor: Actor = require(Perm.CATALOGUE_RECORD_CREATE),
) -> RecordOut:
    inst = get_instance(request)
    with inst.db.write() as s:
        rec = inst.catalogue.create_record(
            s,
            actor,
            parent_id=record_id,
            level=body.level,
            values=body.values,
            category=body.category,
        )
        out = record_out(rec, inst.domain, detail=True)
    return out


@router.patch("/records/{record_id}", response_model=RecordOut, summary="修改著录")
def update_record(
    record_id: RecordId,
    body: UpdateRecordIn,
    request: Request,
    actor: Actor = require(Perm.CATALOGUE_RECORD_EDIT),
) -> RecordOut:
    inst = get_instance(request)
    with inst.db.write() as s:
        rec = inst.catalogue.update_record(
            s, actor, record_id, body.values, expected_version=body.version
        )
        out = record_out(rec, inst.domain, detail=True)
    return out


@router.post(
    "/records/{record_id}/withdraw",
    response_model=RecordOut,
    responses={409: {"model": ErrorOut}},  # an entry with live children cannot be withdrawn
    summary="撤销条目（保留记录，不物理删除）",
)
def withdraw_record(
    record_id: RecordId,
    body: WithdrawIn,
    request: Request,
    actor: Actor = require(Perm.CATALOGUE_RECORD_WITHDRAW),
) -> RecordOut:
    inst = get_instance(request)
    with inst.db.write() as s:
        rec = inst.catalogue.withdraw(s, actor, record_id, reason=body.reason)
        out = record_out(rec, inst.domain, detail=True)
    return out


@router.get("/records/{record_id}/history", summary="条目的变更历史（事件）")
def record_history(
    record_id: RecordId, request: Request, actor: Actor = require(Perm.CATALOGUE_RECORD_READ)
) -> list[dict[str, object]]:
    """The record's own events and the batch events that include it (bulk creation by ingest or
    the generator names an id range on the 全宗; bulk full texts list record ids)."""
    inst = get_instance(request)
    with inst.db.read() as s:
        rec = inst.catalogue.get(s, actor, record_id)
        rows = list(
            s.scalars(
                select(Event)
                .where(Event.object_type == "record", Event.object_id == str(record_id))
                .order_by(Event.seq.desc())
                .limit(200)
            )
        )
        rows += _batch_events(s, record_id, rec.fonds_id)
        rows.sort(key=lambda e: e.seq, reverse=True)
        return [
            {
                "seq": e.seq,
                "ts": e.ts,
                "actor": e.actor,
                "action": e.action,
                "outcome": e.outcome,
                "detail": e.detail,
            }
            for e in rows[:200]
        ]


_RANGE_ACTIONS = (
    EventType.CATALOGUE_RECORDS_CREATED.value,
    EventType.CATALOGUE_RECORDS_GENERATED.value,
)


def _batch_events(s: Session, record_id: int, fonds_id: int | None) -> list[Event]:
    """Batch events naming ``record_id``: the range event that created it, then the bulk text
    events logged since (only those can include it)."""
    if fonds_id is None:
        return []
    created = [
        e
        for e in s.scalars(
            select(Event).where(
                Event.object_type == "fonds",
                Event.object_id == str(fonds_id),
                Event.action.in_(_RANGE_ACTIONS),
            )
        )
        if int(_detail(e).get("first_id", 0)) <= record_id <= int(_detail(e).get("last_id", -1))
    ]
    since = min((e.seq for e in created), default=0)
    texts = [
        e
        for e in s.scalars(
            select(Event).where(
                Event.action == EventType.CATALOGUE_TEXTS_ADDED.value, Event.seq >= since
            )
        )
        if record_id in (_detail(e).get("record_ids") or ())
    ]
    return created + texts


def _detail(e: Event) -> dict[str, Any]:
    try:
        value = json.loads(e.detail or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
