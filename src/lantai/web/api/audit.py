"""The audit log, for the 安全审计员: browse and verify."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from lantai.audit import EventType
from lantai.security import Actor, Perm
from lantai.store import Event
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["list_events", "router", "verify_chain"]

router = APIRouter(
    prefix="/api/audit",
    tags=["审计"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
)


def list_events(
    request: Request,
    *,
    before: int | None,
    limit: int,
    actor_name: str | None,
    action: str | None,
    object_id: str | None,
) -> dict[str, Any]:
    inst = get_instance(request)
    q = select(Event).order_by(Event.seq.desc()).limit(limit + 1)
    if before is not None:
        q = q.where(Event.seq < before)
    if actor_name:
        q = q.where(Event.actor == actor_name)
    if action:
        q = q.where(Event.action == action)
    if object_id:
        q = q.where(Event.object_id == object_id)
    with inst.db.read() as s:
        rows = list(s.scalars(q))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [
            {
                "seq": e.seq,
                "ts": e.ts,
                "actor": e.actor,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "outcome": e.outcome,
                "detail": e.detail,
                "hash": e.hash,
            }
            for e in rows
        ],
        "next_before": rows[-1].seq if more and rows else None,
    }


@router.get("/events", summary="审计日志（新到旧，分页）")
def events(
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    actor_name: Annotated[str | None, Query(alias="actor", max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Actor = require(Perm.AUDIT_LOG_READ),
) -> dict[str, Any]:
    return list_events(
        request,
        before=before,
        limit=limit,
        actor_name=actor_name,
        action=action,
        object_id=object_id,
    )


def verify_chain(request: Request, actor: Actor) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        report = inst.audit.verify(s)
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.AUDIT_CHAIN_VERIFIED,
            object_type="audit",
            object_id="events",
            detail={"checked": report.checked, "ok": report.ok, "problems": len(report.problems)},
        )
    return {
        "ok": report.ok,
        "checked": report.checked,
        "last_seq": report.last_seq,
        "problems": [{"seq": p.seq, "message": p.message} for p in report.problems[:200]],
    }


@router.post("/verify", summary="校验审计日志哈希链")
def verify(request: Request, actor: Actor = require(Perm.AUDIT_LOG_VERIFY)) -> dict[str, Any]:
    return verify_chain(request, actor)
