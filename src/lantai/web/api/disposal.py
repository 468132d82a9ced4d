"""到期鉴定与销毁, backups, and the refusal of every other deletion of preserved content.

::

    GET   /api/disposal/candidates                 expired records (as_of, fonds_id)
    POST  /api/disposal/batches                    create a batch {title, record_ids?}
    GET   /api/disposal/batches                    batches, newest first
    GET   /api/disposal/batches/{uid}              items, decisions per round, register
    POST  /api/disposal/batches/{uid}/rounds/{n}   decisions of round n (permission per round)
    POST  /api/disposal/batches/{uid}/execute      carry out the final decisions
    GET   /api/disposal/batches/{uid}/register.{xlsx|pdf}   the 销毁清册

    GET   /api/backups                             the backup ledger (sysadmin)
    POST  /api/backups                             make a backup {dest, content}
    POST  /api/backups/{uid}/verify                restorability test (BC-3-4)

    DELETE /api/records/{id}, DELETE /api/records/{id}/files   always 403, audited
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lantai.audit import EventType, Outcome
from lantai.backup import create_backup, verify_backup
from lantai.disposal import (
    Decision,
    batch_json,
    create_batch,
    decide,
    execute,
    find_expired,
    get_batch,
)
from lantai.disposal.service import REGISTER_FILES
from lantai.errors import NotFound, PermissionDenied
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.storage import open_store
from lantai.store import Backup, BackupVerification, DisposalBatch
from lantai.web.api.schemas import DbId, ErrorOut, IsoDate
from lantai.web.deps import get_instance, require

__all__ = ["backups_router", "refusals_router", "router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)
}
router = APIRouter(prefix="/api/disposal", tags=["到期鉴定与销毁"], responses=_ERRORS)
backups_router = APIRouter(prefix="/api/backups", tags=["备份与恢复"], responses=_ERRORS)
refusals_router = APIRouter(tags=["目录"], responses=_ERRORS)

BatchUid = Annotated[str, Path(min_length=8, max_length=36, description="鉴定批次 ID")]


class BatchIn(BaseModel):
    title: str = Field(min_length=1, max_length=500, description="批次名称")
    record_ids: list[DbId] | None = Field(
        None, max_length=100_000, description="条目 ID；不填则为全部到期条目"
    )
    as_of: IsoDate | None = Field(None, description="按此日期计算到期（默认今天）")
    fonds_id: DbId | None = Field(None, description="只取此全宗")


class DecisionIn(BaseModel):
    record_id: int
    decision: Literal["destroy", "extend"] = Field(description="destroy 销毁；extend 延长保管期限")
    reason: str = Field(min_length=1, max_length=2000, description="鉴定理由")
    new_retention: str | None = Field(None, max_length=8, description="延长后的保管期限代码")


class BackupIn(BaseModel):
    dest: str = Field(min_length=1, max_length=1000, description="备份目录（服务器上的路径）")
    content: bool = Field(False, description="同时备份保存的电子文件（信息包）")


def _backup_json(row: Backup) -> dict[str, Any]:
    return {
        "uid": row.uid,
        "database": row.database,
        "path": row.path,
        "with_content": row.with_content,
        "files": row.files,
        "bytes": row.bytes,
        "manifest_sha256": row.manifest_sha256,
        "audit_head": row.counts.get("audit_head"),
        "counts": row.counts.get("counts"),
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "verified_at": row.verified_at.isoformat() if row.verified_at else None,
        "verified_ok": row.verified_ok,
    }


# -- disposal ---------------------------------------------------------------------------------------


@router.get("/candidates", summary="到期待鉴定的条目")
def candidates(
    request: Request,
    as_of: IsoDate | None = Query(None, description="按此日期计算（默认今天）"),
    fonds_id: DbId | None = Query(None),
    actor: Actor = require(Perm.DISPOSAL_READ),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        found = find_expired(s, inst.domain.table("retention"), as_of=as_of, fonds_id=fonds_id)
    return {"total": len(found), "items": [e.to_dict() for e in found]}


@router.post("/batches", status_code=201, summary="创建到期鉴定批次")
def new_batch(
    request: Request, body: BatchIn, actor: Actor = require(Perm.DISPOSAL_REVIEW)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        batch = create_batch(
            inst,
            s,
            actor,
            title=body.title,
            record_ids=body.record_ids,
            as_of=body.as_of,
            fonds_id=body.fonds_id,
        )
        return batch_json(s, batch)


@router.get("/batches", summary="到期鉴定批次与销毁清册")
def batches(request: Request, actor: Actor = require(Perm.DISPOSAL_READ)) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows = s.scalars(select(DisposalBatch).order_by(DisposalBatch.id.desc())).all()
        return {
            "items": [
                {
                    "uid": b.uid,
                    "title": b.title,
                    "state": b.state,
                    "as_of": b.as_of,
                    "created_at": b.created_at.isoformat(),
                    "executed_at": b.executed_at.isoformat() if b.executed_at else None,
                    "summary": b.summary,
                }
                for b in rows
            ]
        }


@router.get("/batches/{uid}", summary="批次详情（逐轮鉴定意见）")
def batch_detail(
    request: Request, uid: BatchUid, actor: Actor = require(Perm.DISPOSAL_READ)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return batch_json(s, get_batch(s, uid))


@router.post("/batches/{uid}/rounds/{round_no}", summary="记录一轮鉴定意见（权限按轮次配置）")
def batch_decide(
    request: Request,
    uid: BatchUid,
    body: list[DecisionIn],
    round_no: Annotated[int, Path(ge=1, le=5)],
    actor: Actor = require(Perm.AUTHENTICATED),
) -> dict[str, Any]:
    # The round's own permission (disposal:item:review or disposal:batch:approve, from the
    # rounds configuration) is checked by decide(); an actor with neither is refused first.
    if not (actor.can(Perm.DISPOSAL_REVIEW) or actor.can(Perm.DISPOSAL_APPROVE)):
        raise PermissionDenied(f"当前用户「{actor.display_name}」无权作到期鉴定意见")
    inst = get_instance(request)
    with inst.db.write() as s:
        decide(
            inst,
            s,
            actor,
            uid,
            round_no,
            [Decision(d.record_id, d.decision, d.reason, d.new_retention) for d in body],
        )
        return batch_json(s, get_batch(s, uid))


@router.post("/batches/{uid}/execute", summary="执行鉴定结论（销毁、延长保管期限）")
async def batch_execute(
    request: Request, uid: BatchUid, actor: Actor = require(Perm.DISPOSAL_EXECUTE)
) -> dict[str, Any]:
    inst = get_instance(request)
    return await run_in_threadpool(execute, inst, actor, uid)


@router.get("/batches/{uid}/register.{fmt}", summary="销毁清册（XLSX 或 PDF）")
def register_file(
    request: Request,
    uid: BatchUid,
    fmt: Literal["xlsx", "pdf"],
    actor: Actor = require(Perm.DISPOSAL_READ),
) -> Response:
    inst = get_instance(request)
    with inst.db.read() as s:
        batch = get_batch(s, uid)
    if not batch.register_package:
        raise NotFound("该批次尚未执行，没有销毁清册")
    name = REGISTER_FILES[0] if fmt == "xlsx" else REGISTER_FILES[1]
    with open_store(inst.settings).open(f"{batch.register_package}/{name}") as f:
        data = f.read()
    media = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if fmt == "xlsx"
        else "application/pdf"
    )
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''register.{fmt}"},
    )


# -- backups ----------------------------------------------------------------------------------------


@backups_router.get("", summary="备份登记")
def backups(request: Request, actor: Actor = require(Perm.SYSTEM_BACKUP)) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        rows = s.scalars(select(Backup).order_by(Backup.id.desc())).all()
        return {"items": [_backup_json(r) for r in rows]}


@backups_router.post("", status_code=201, summary="创建备份（数据库、配置、密钥）")
async def backup_create(
    request: Request, body: BackupIn, actor: Actor = require(Perm.SYSTEM_BACKUP)
) -> dict[str, Any]:
    inst = get_instance(request)
    row = await run_in_threadpool(
        create_backup, inst, FsPath(body.dest), actor, content=body.content
    )
    return _backup_json(row)


@backups_router.post("/{uid}/verify", summary="备份可恢复性检测（DA/T 70 BC-3-4）")
async def backup_verify(
    request: Request,
    uid: Annotated[str, Path(min_length=6, max_length=36)],
    actor: Actor = require(Perm.SYSTEM_BACKUP),
) -> dict[str, Any]:
    inst = get_instance(request)
    row: BackupVerification = await run_in_threadpool(verify_backup, inst, uid, actor)
    return {"ok": row.ok, "detail": row.detail, "finished_at": row.finished_at.isoformat()}


# -- no other deletion ------------------------------------------------------------------------------


def _refuse(inst: Instance, actor: Actor, record_id: int, what: str) -> None:
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.STORAGE_DELETE_REFUSED,
            object_type="record",
            object_id=record_id,
            outcome=Outcome.FAILURE,
            detail={"request": what},
        )
    raise PermissionDenied(
        "档案不能删除：条目只能撤销（保留），保存的电子文件只能经到期鉴定审批后销毁"
    )


@refusals_router.delete("/api/records/{record_id}", summary="删除条目（一律拒绝并记录）")
def delete_record(
    request: Request, record_id: int, actor: Actor = require(Perm.AUTHENTICATED)
) -> None:
    _refuse(get_instance(request), actor, record_id, f"DELETE /api/records/{record_id}")


@refusals_router.delete("/api/records/{record_id}/files", summary="删除电子文件（一律拒绝并记录）")
def delete_files(
    request: Request, record_id: int, actor: Actor = require(Perm.AUTHENTICATED)
) -> None:
    _refuse(get_instance(request), actor, record_id, f"DELETE /api/records/{record_id}/files")
