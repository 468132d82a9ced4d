"""上网审查 and the published open catalogue.

Staff (``/api/publication/…``): batches of 开放 records, decisions per item or in bulk,
unpublishing, reconciling, and the OAI-PMH set membership. Public (``/api/public/open-catalogue/…``):
the 开放档案目录 (案卷级/文件级) as XLSX or PDF, masked, for anyone.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from lantai.appraisal.publication import (
    LEVEL_TITLES,
    PublicationService,
    export_open_catalogue,
    list_open_catalogue_sets,
    open_catalogue_set_members,
)
from lantai.security import Actor, Perm
from lantai.store import PublicationBatch, PublicationDecision, PublicationItem, Record
from lantai.web.api.schemas import DbId, ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["public_router", "publication_service", "router"]

_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
router = APIRouter(prefix="/api/publication", tags=["上网审查"], responses=_RESPONSES)
public_router = APIRouter(prefix="/api/public", tags=["公众检索"], responses=_RESPONSES)


def publication_service(request: Request) -> PublicationService:
    """One service per app (it caches the screening rules and the masking configuration)."""
    svc = getattr(request.app.state, "publication", None)
    if not isinstance(svc, PublicationService):
        svc = request.app.state.publication = PublicationService(get_instance(request))
    return svc


BatchId = Annotated[int, PathParam(ge=1, le=2**62, description="批次 ID")]


class BatchIn(BaseModel):
    title: str = Field(min_length=1, max_length=200, description="批次名称")
    record_ids: list[DbId] = Field(
        default_factory=list, max_length=100_000, description="条目（案卷会带上其开放的件）"
    )
    fonds: str | None = Field(None, description="全宗号：该全宗尚未公布的开放案卷与件")
    year: int | None = Field(None, ge=1000, le=9999, description="只取此年度（与 fonds 一起用）")
    level: Literal["file", "item"] | None = Field(None, description="只取案卷（file）或件（item）")
    note: str = ""


class BatchOut(BaseModel):
    id: int
    title: str
    note: str
    created_by: str
    created_at: datetime
    counts: dict[str, int]


class ItemOut(BaseModel):
    record_id: int
    archival_code: str | None
    title: str
    level: str
    open_status: str | None
    decision: str
    decision_label: str
    reviewer: str | None
    decided_at: datetime | None
    reason: str
    masked_spans: int


class BatchDetailOut(BatchOut):
    items: list[ItemOut]


class DecisionIn(BaseModel):
    decision: Literal["approve", "reject"] = Field(description="approve 准予上网，reject 不予上网")
    reason: str = Field("", max_length=2000, description="理由（不予上网时必填）")
    record_ids: list[DbId] | None = Field(
        None, max_length=100_000, description="只审这些条目；不填则审批次中全部待审条目"
    )


class DecisionOut(BaseModel):
    batch_id: int
    decision: str
    record_ids: list[int]
    masked_spans: int


class UnpublishIn(BaseModel):
    record_ids: list[DbId] = Field(min_length=1, max_length=100_000)
    reason: str = Field(min_length=1, max_length=2000)


class RecordIdsOut(BaseModel):
    record_ids: list[int]


class SetOut(BaseModel):
    spec: str
    name: str


class MemberOut(BaseModel):
    record_id: int
    identifier: str
    archival_code: str | None
    fonds_code: str | None
    level: str
    datestamp: datetime
    deleted: bool


def _counts(items: list[PublicationItem]) -> dict[str, int]:
    out = {d.value: 0 for d in PublicationDecision}
    for i in items:
        out[i.decision] = out.get(i.decision, 0) + 1
    return out


def _batch_out(b: PublicationBatch, items: list[PublicationItem]) -> BatchOut:
    return BatchOut(
        id=b.id,
        title=b.title,
        note=b.note,
        created_by=b.created_by,
        created_at=b.created_at,
        counts=_counts(items),
    )


def _item_out(i: PublicationItem, r: Record) -> ItemOut:
    return ItemOut(
        record_id=r.id,
        archival_code=r.archival_code,
        title=r.title,
        level=r.level,
        open_status=r.open_status,
        decision=i.decision,
        decision_label=PublicationDecision(i.decision).label,
        reviewer=i.reviewer,
        decided_at=i.decided_at,
        reason=i.reason,
        masked_spans=i.masked_spans,
    )


@router.get("/batches", response_model=list[BatchOut], summary="上网审查批次列表")
def list_batches(request: Request, actor: Actor = require(Perm.PUBLICATION_READ)) -> list[BatchOut]:
    svc = publication_service(request)
    with svc.inst.db.read() as s:
        out = []
        for b in svc.batches(s, actor):
            items = [i for i, _ in svc.items(s, actor, b.id)]
            out.append(_batch_out(b, items))
        return out


@router.post("/batches", response_model=BatchDetailOut, status_code=201, summary="创建上网审查批次")
def create_batch(
    body: BatchIn, request: Request, actor: Actor = require(Perm.PUBLICATION_REVIEW)
) -> BatchDetailOut:
    svc = publication_service(request)
    with svc.inst.db.write() as s:
        b = svc.create_batch(
            s,
            actor,
            title=body.title,
            record_ids=body.record_ids,
            fonds=body.fonds,
            year=body.year,
            level=body.level,
            note=body.note,
        )
        pairs = svc.items(s, actor, b.id)
        return BatchDetailOut(
            **_batch_out(b, [i for i, _ in pairs]).model_dump(),
            items=[_item_out(i, r) for i, r in pairs],
        )


@router.get("/batches/{batch_id}", response_model=BatchDetailOut, summary="上网审查批次及其条目")
def get_batch(
    batch_id: BatchId, request: Request, actor: Actor = require(Perm.PUBLICATION_READ)
) -> BatchDetailOut:
    svc = publication_service(request)
    with svc.inst.db.read() as s:
        b = svc.batch(s, actor, batch_id)
        pairs = svc.items(s, actor, b.id)
        return BatchDetailOut(
            **_batch_out(b, [i for i, _ in pairs]).model_dump(),
            items=[_item_out(i, r) for i, r in pairs],
        )


@router.post(
    "/batches/{batch_id}/decisions",
    response_model=DecisionOut,
    summary="准予或不予上网（逐条或整批）",
)
def decide(
    batch_id: BatchId,
    body: DecisionIn,
    request: Request,
    actor: Actor = require(Perm.PUBLICATION_REVIEW),
) -> DecisionOut:
    svc = publication_service(request)
    with svc.inst.db.write() as s:
        rep = svc.decide(
            s, actor, batch_id, body.decision, reason=body.reason, record_ids=body.record_ids
        )
    return DecisionOut(
        batch_id=rep.batch_id,
        decision=rep.decision,
        record_ids=rep.record_ids,
        masked_spans=rep.masked_spans,
    )


@router.post("/unpublish", response_model=RecordIdsOut, summary="撤下已公布的条目")
def unpublish(
    body: UnpublishIn, request: Request, actor: Actor = require(Perm.PUBLICATION_REVIEW)
) -> RecordIdsOut:
    svc = publication_service(request)
    with svc.inst.db.write() as s:
        ids = svc.unpublish(s, actor, body.record_ids, reason=body.reason)
    return RecordIdsOut(record_ids=ids)


@router.post(
    "/reconcile", response_model=RecordIdsOut, summary="撤下开放标识已变更或已撤销的已公布条目"
)
def reconcile(request: Request, actor: Actor = require(Perm.PUBLICATION_REVIEW)) -> RecordIdsOut:
    svc = publication_service(request)
    with svc.inst.db.write() as s:
        ids = svc.reconcile(s, actor)
    return RecordIdsOut(record_ids=ids)


@router.get("/sets", response_model=list[SetOut], summary="开放档案目录的 OAI-PMH 集合")
def sets(request: Request, _: Actor = require(Perm.PUBLICATION_READ)) -> list[SetOut]:
    with get_instance(request).db.read() as s:
        return [SetOut(spec=x.spec, name=x.name) for x in list_open_catalogue_sets(s)]


@router.get(
    "/sets/{set_spec}/members",
    response_model=list[MemberOut],
    summary="OAI-PMH 集合成员（含已撤下 = deleted）",
)
def set_members(
    set_spec: str, request: Request, _: Actor = require(Perm.PUBLICATION_READ)
) -> list[MemberOut]:
    with get_instance(request).db.read() as s:
        return [
            MemberOut(
                record_id=m.record_id,
                identifier=m.identifier,
                archival_code=m.archival_code,
                fonds_code=m.fonds_code,
                level=m.level,
                datestamp=m.datestamp,
                deleted=m.deleted,
            )
            for m in open_catalogue_set_members(s, set_spec)
        ]


_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@public_router.get(
    "/open-catalogue/{level}.{fmt}",
    summary="下载开放档案目录（案卷级 file / 文件级 item；xlsx 或 pdf；个人信息已遮蔽）",
    response_class=FileResponse,
)
def open_catalogue(
    level: str,
    fmt: str,
    request: Request,
    fonds: Annotated[str | None, Query(max_length=32, description="全宗号")] = None,
    _: Actor = require(Perm.PUBLIC),
) -> FileResponse:
    svc = publication_service(request)
    tmpdir = Path(tempfile.mkdtemp(prefix="lantai-open-catalogue-"))
    name = f"{LEVEL_TITLES.get(level, 'open')}.{fmt}"
    out = export_open_catalogue(
        svc.inst, svc.config, tmpdir / f"catalogue.{fmt}", level=level, fmt=fmt, fonds=fonds
    )

    def cleanup() -> None:
        out.path.unlink(missing_ok=True)
        tmpdir.rmdir()

    return FileResponse(
        out.path, media_type=_MEDIA[fmt], filename=name, background=BackgroundTask(cleanup)
    )
