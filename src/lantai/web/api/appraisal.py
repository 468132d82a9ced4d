"""开放审核 (open-access review): batches, rounds, decisions, joint review with the unit, results.

::

    GET   /api/appraisal/rules                               rounds and rules (review_rounds.yaml)
    GET   /api/appraisal/stats                               opened this year, 开放率 per fonds
    GET   /api/appraisal/batches                             batches with progress per round
    POST  /api/appraisal/batches                             create (candidates | filter | records)
    GET   /api/appraisal/batches/{id}                        one batch with progress per round
    GET   /api/appraisal/batches/{id}/items                  items: screening, decisions, opinions
    POST  /api/appraisal/batches/{id}/decisions              decide items chosen by a filter
    POST  /api/appraisal/batches/{id}/items/{record_id}/decision   decide one item
    POST  /api/appraisal/batches/{id}/claim                  claim the current round's task
    POST  /api/appraisal/batches/{id}/assign                 assign the current round's task
    POST  /api/appraisal/batches/{id}/advance                move to the next round
    GET   /api/appraisal/batches/{id}/unit-list.xlsx         the list for the 形成/移交单位
    POST  /api/appraisal/batches/{id}/unit-opinions          import the filled list (XLSX)
    POST  /api/appraisal/batches/{id}/apply                  write 开放标识 to the catalogue

Permissions: ``appraisal:review:read`` to look, ``appraisal:review:decide`` to decide (plus the
round's own permission from the rules file), ``appraisal:review:manage`` for the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from lantai.appraisal.review import (
    DecisionInput,
    ItemFilter,
    advance,
    apply_batch,
    assign_task,
    batch_json,
    claim_task,
    create_batch,
    create_from_candidates,
    create_from_filter,
    decide,
    export_unit_list,
    get_batch,
    import_unit_opinions,
    items_page,
    parse_due,
    review_stats,
    rules_for,
)
from lantai.errors import NotFound, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import Record, ReviewBatch
from lantai.web.api.schemas import DbId, ErrorOut, IsoDate
from lantai.web.deps import get_instance, require
from lantai.web.uploads import received_file

__all__ = ["router"]

router = APIRouter(
    prefix="/api/appraisal",
    tags=["开放审核"],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
)

BatchId = Annotated[int, Path(ge=1, le=2**62, description="审核批次 ID")]
RecordId = Annotated[int, Path(ge=1, le=2**62, description="条目 ID")]
Result = Annotated[str, Field(min_length=1, max_length=16, description="开放 / 控制 / 延期开放")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CreateBatchIn(BaseModel):
    source: Literal["candidates", "filter", "records"] = Field(
        "candidates",
        description="candidates：到期候选（全宗/年度/门类）；filter：按全宗/年度/门类明确筛选；"
        "records：列出的条目",
    )
    fonds_id: int | None = Field(None, ge=1, le=2**62)
    fonds_code: str | None = Field(None, min_length=1, max_length=16)
    year: int | None = Field(None, ge=1000, le=9999)
    category: str | None = Field(None, min_length=1, max_length=8)
    record_ids: list[DbId] | None = Field(None, max_length=100_000)
    include_open: bool = False
    title: str | None = Field(None, max_length=300)
    unit: str | None = Field(
        None, max_length=200, description="形成/移交单位（默认：全宗的立档单位）"
    )
    joint_review: bool = Field(True, description="是否与形成/移交单位协同审核（档案法第三十条）")
    as_of: IsoDate | None = Field(None, description="候选计算日期（默认今天）")


class FilterIn(BaseModel):
    record_ids: list[DbId] | None = Field(None, max_length=100_000)
    no_hits: bool | None = Field(None, description="true：无命中；false：有命中")
    suggestion: str | None = Field(None, max_length=16, description="机器建议结果")
    category: str | None = Field(None, max_length=8, description="门类")
    rule_id: str | None = Field(None, max_length=64, description="命中此规则")
    undecided: bool = Field(False, description="只选本轮尚未作结论的")
    unit_opinion: str | None = Field(None, max_length=16, description="单位意见为此结论")

    def to_filter(self) -> ItemFilter:
        return ItemFilter(
            record_ids=tuple(self.record_ids) if self.record_ids is not None else None,
            no_hits=self.no_hits,
            suggestion=self.suggestion,
            category=self.category,
            rule_id=self.rule_id,
            undecided=self.undecided,
            unit_opinion=self.unit_opinion,
        )


class DecisionIn(BaseModel):
    result: Result
    review_due: str | None = Field(None, max_length=10, description="复审日期（延期开放必填）")
    reason: str = Field("", max_length=2000)
    basis: str = Field("", max_length=1000, description="依据（空：采用机器预筛的依据）")

    def to_input(self) -> DecisionInput:
        return DecisionInput(
            result=self.result,
            review_due=parse_due(self.review_due),
            reason=self.reason,
            basis=self.basis,
        )


class BulkDecisionIn(DecisionIn):
    filter: FilterIn = Field(default_factory=FilterIn, description="选择条目（全空 = 全部条目）")


class AssignIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)


def _fonds_id(s: Any, body: CreateBatchIn) -> int | None:
    if body.fonds_id is not None:
        return body.fonds_id
    if body.fonds_code is None:
        return None
    fid = s.scalar(
        select(Record.id).where(
            Record.level == "fonds", Record.archival_code == body.fonds_code.strip().upper()
        )
    )
    if fid is None:
        raise NotFound(f"全宗「{body.fonds_code}」不存在")
    return int(fid)


@router.get("/rules", summary="审核轮次与规则")
def get_rules(
    request: Request, actor: Actor = require(Perm.APPRAISAL_REVIEW_READ)
) -> dict[str, Any]:
    return rules_for(get_instance(request)).model_dump()


@router.get("/stats", summary="开放统计：本年开放数、开放率（按全宗）")
def get_stats(
    request: Request,
    fonds_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    as_of: Annotated[IsoDate | None, Query(description="统计日期（默认今天）")] = None,
    actor: Actor = require(Perm.APPRAISAL_REVIEW_READ),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return review_stats(s, today=as_of, fonds_id=fonds_id)


@router.get("/batches", summary="审核批次（新到旧），含各轮进度")
def list_batches(
    request: Request,
    state: Annotated[Literal["reviewing", "applied"] | None, Query()] = None,
    fonds_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    actor: Actor = require(Perm.APPRAISAL_REVIEW_READ),
) -> dict[str, Any]:
    inst = get_instance(request)
    stmt = select(ReviewBatch)
    if state is not None:
        stmt = stmt.where(ReviewBatch.state == state)
    if fonds_id is not None:
        stmt = stmt.where(ReviewBatch.fonds_id == fonds_id)
    with inst.db.read() as s:
        total = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        batches = s.scalars(stmt.order_by(ReviewBatch.id.desc()).offset(offset).limit(limit))
        return {"total": total, "items": [batch_json(s, b) for b in batches]}


@router.post("/batches", status_code=201, summary="建立审核批次（机器预筛结果随批次保存）")
def create(
    body: CreateBatchIn, request: Request, actor: Actor = require(Perm.APPRAISAL_REVIEW_MANAGE)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        fid = _fonds_id(s, body)
        common: dict[str, Any] = {
            "title": body.title,
            "unit": body.unit,
            "joint_review": body.joint_review,
        }
        if body.source == "records":
            if not body.record_ids:
                raise ValidationFailed(
                    "审核批次未建立", [Problem(field="record_ids", message="须列出条目")]
                )
            batch = create_batch(
                inst,
                s,
                actor,
                body.record_ids,
                fonds_id=fid,
                year=body.year,
                category=body.category,
                criteria={"source": "records"},
                **common,
            )
        else:
            if fid is None:
                raise ValidationFailed(
                    "审核批次未建立",
                    [Problem(field="全宗", message="须指定全宗（fonds_id 或 fonds_code）")],
                )
            if body.source == "candidates":
                batch = create_from_candidates(
                    inst,
                    s,
                    actor,
                    fonds_id=fid,
                    year=body.year,
                    category=body.category,
                    today=body.as_of,
                    **common,
                )
            else:
                batch = create_from_filter(
                    inst,
                    s,
                    actor,
                    fonds_id=fid,
                    year=body.year,
                    category=body.category,
                    include_open=body.include_open,
                    **common,
                )
        return batch_json(s, batch)


@router.get("/batches/{batch_id}", summary="审核批次详情（各轮进度、任务、结论统计）")
def get_one(
    batch_id: BatchId, request: Request, actor: Actor = require(Perm.APPRAISAL_REVIEW_READ)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.read() as s:
        return batch_json(s, get_batch(s, batch_id))


@router.get("/batches/{batch_id}/items", summary="批次条目：预筛命中、各轮结论、单位意见（可筛选）")
def get_items(
    batch_id: BatchId,
    request: Request,
    no_hits: Annotated[bool | None, Query(description="true：无命中；false：有命中")] = None,
    suggestion: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=8)] = None,
    rule_id: Annotated[str | None, Query(max_length=64)] = None,
    undecided: Annotated[bool, Query(description="只列本轮尚未作结论的")] = False,
    unit_opinion: Annotated[str | None, Query(max_length=16)] = None,
    record_id: Annotated[list[int] | None, Query(description="只列这些条目")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    actor: Actor = require(Perm.APPRAISAL_REVIEW_READ),
) -> dict[str, Any]:
    inst = get_instance(request)
    flt = ItemFilter(
        record_ids=tuple(record_id) if record_id else None,
        no_hits=no_hits,
        suggestion=suggestion,
        category=category,
        rule_id=rule_id,
        undecided=undecided,
        unit_opinion=unit_opinion,
    )
    with inst.db.read() as s:
        batch = get_batch(s, batch_id)
        return items_page(s, actor, batch, flt, offset=offset, limit=limit)


def _decide(
    inst: Instance, actor: Actor, batch_id: int, body: DecisionIn, flt: ItemFilter
) -> dict[str, Any]:
    d = body.to_input()
    with inst.db.write() as s:
        res = decide(inst, s, actor, batch_id, d, items=flt)
        out = res.to_dict()
        out["batch"] = batch_json(s, get_batch(s, batch_id))
        return out


@router.post("/batches/{batch_id}/decisions", summary="批量作出结论（按筛选条件，本轮）")
def decide_bulk(
    batch_id: BatchId,
    body: BulkDecisionIn,
    request: Request,
    actor: Actor = require(Perm.APPRAISAL_REVIEW_DECIDE),
) -> dict[str, Any]:
    return _decide(get_instance(request), actor, batch_id, body, body.filter.to_filter())


@router.post("/batches/{batch_id}/items/{record_id}/decision", summary="对一个条目作出结论（本轮）")
def decide_one(
    batch_id: BatchId,
    record_id: RecordId,
    body: DecisionIn,
    request: Request,
    actor: Actor = require(Perm.APPRAISAL_REVIEW_DECIDE),
) -> dict[str, Any]:
    flt = ItemFilter(record_ids=(record_id,))
    return _decide(get_instance(request), actor, batch_id, body, flt)


@router.post("/batches/{batch_id}/claim", summary="领取本轮审核任务")
def claim(
    batch_id: BatchId, request: Request, actor: Actor = require(Perm.APPRAISAL_REVIEW_DECIDE)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        claim_task(inst, s, actor, batch_id)
        return batch_json(s, get_batch(s, batch_id))


@router.post("/batches/{batch_id}/assign", summary="分配本轮审核任务")
def assign(
    batch_id: BatchId,
    body: AssignIn,
    request: Request,
    actor: Actor = require(Perm.APPRAISAL_REVIEW_MANAGE),
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        assign_task(inst, s, actor, batch_id, body.username.strip().lower())
        return batch_json(s, get_batch(s, batch_id))


@router.post(
    "/batches/{batch_id}/advance", summary="进入下一轮（本轮全部作出结论，或可跳过的轮次）"
)
def advance_round(
    batch_id: BatchId, request: Request, actor: Actor = require(Perm.APPRAISAL_REVIEW_MANAGE)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        return batch_json(s, advance(inst, s, actor, batch_id))


@router.get(
    "/batches/{batch_id}/unit-list.xlsx", summary="导出协同审核清单（供形成/移交单位填写意见）"
)
def unit_list(
    batch_id: BatchId, request: Request, actor: Actor = require(Perm.APPRAISAL_REVIEW_MANAGE)
) -> Response:
    inst = get_instance(request)
    with inst.db.write() as s:
        data = export_unit_list(inst, s, actor, batch_id)
        name = f"开放审核协同意见表-{get_batch(s, batch_id).title}.xlsx"
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.post("/batches/{batch_id}/unit-opinions", summary="导入单位意见（XLSX，全部通过才写入）")
def unit_opinions(
    batch_id: BatchId,
    request: Request,
    file: Annotated[UploadFile, File(description="导出的协同审核清单，已填写单位意见与理由")],
    unit: Annotated[
        str | None, Form(max_length=200, description="单位名称（默认：批次登记的单位）")
    ] = None,
    actor: Actor = require(Perm.APPRAISAL_REVIEW_MANAGE),
) -> dict[str, Any]:
    inst = get_instance(request)
    limit = inst.settings.max_upload_mb << 20
    with (
        received_file(file, inst.home / "tmp", max_bytes=limit) as (path, name),
        inst.db.write() as s,
    ):
        count = import_unit_opinions(
            inst, s, actor, batch_id, path, unit=unit or None, filename=name
        )
        return {"imported": count, "batch": batch_json(s, get_batch(s, batch_id))}


@router.post("/batches/{batch_id}/apply", summary="写入审核结果：开放标识与审核日期（终审完成后）")
def apply(
    batch_id: BatchId, request: Request, actor: Actor = require(Perm.APPRAISAL_REVIEW_MANAGE)
) -> dict[str, Any]:
    inst = get_instance(request)
    with inst.db.write() as s:
        res = apply_batch(inst, s, actor, batch_id)
        return res.to_dict() | {"batch": batch_json(s, get_batch(s, batch_id))}
