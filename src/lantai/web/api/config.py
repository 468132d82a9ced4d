"""The archival domain configuration, read-only: code tables, 档号 rules, schemes, 三合一."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from lantai.archival import Level
from lantai.archival.scheme import OBLIGATION_LABELS
from lantai.errors import NotFound
from lantai.security import Actor, Perm
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["router"]

router = APIRouter(
    prefix="/api/config",
    tags=["配置"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)


@router.get("/code-tables", summary="代码表（值域）")
def code_tables(
    request: Request, actor: Actor = require(Perm.CONFIG_DOMAIN_READ)
) -> dict[str, Any]:
    inst = get_instance(request)
    return {
        name: {
            "title": t.title,
            "open": t.open,
            "entries": [
                {
                    "code": e.code,
                    "label": e.display,
                    "aliases": list(e.aliases),
                    "legacy": e.legacy,
                    "rank": e.rank,
                }
                for e in t.entries
            ],
        }
        for name, t in inst.domain.tables.items()
    }


@router.get("/code-rules", summary="档号规则及其适用范围")
def code_rules(request: Request, actor: Actor = require(Perm.CONFIG_DOMAIN_READ)) -> dict[str, Any]:
    inst = get_instance(request)
    book = inst.domain.codes
    return {
        "rules": [
            {"id": r.id, "title": r.title, "example": r.example} for r in book.rules.values()
        ],
        "assignments": [a.model_dump() for a in book.assignments],
    }


@router.get("/schemes/{category}", summary="门类的著录方案（按层级）")
def scheme(
    request: Request,
    category: Annotated[
        str, Path(max_length=8, description="门类代码，如 WS；__base__ 为通用方案")
    ],
    level: Annotated[Level | None, Query()] = None,
    actor: Actor = require(Perm.CONFIG_DOMAIN_READ),
) -> dict[str, Any]:
    inst = get_instance(request)
    if category != "__base__" and category not in inst.domain.schemes:
        raise NotFound(f"门类「{category}」没有著录方案")
    sch = inst.domain.scheme_for(None if category == "__base__" else category)
    elements = sch.elements_for(level) if level else list(sch.elements)
    return {
        "id": sch.id,
        "title": sch.title,
        "elements": [
            {
                "key": e.key,
                "name": e.name,
                "area": e.area,
                "dat46": e.dat46,
                "type": e.type_at(level) if level else e.type,
                "table": e.table,
                "max_length": e.max_length,
                "obligation": {lv: OBLIGATION_LABELS[o] for lv, o in e.obligation.items()},
            }
            for e in elements
        ],
    }


class SuggestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: str = Field("municipal-office", max_length=64)
    title: str = Field(min_length=1, max_length=500)
    doc_type: str | None = Field(None, max_length=32)
    responsible: str | None = Field(None, max_length=200)
    org_code: str | None = Field(None, max_length=32)


@router.post("/classification/suggest", summary="按三合一表建议类目、门类与保管期限")
def suggest(
    body: SuggestIn, request: Request, actor: Actor = require(Perm.CONFIG_DOMAIN_READ)
) -> list[dict[str, Any]]:
    inst = get_instance(request)
    table = inst.domain.classifications.table(body.table)
    if table is None:
        raise NotFound(f"三合一表「{body.table}」不存在")
    out = []
    for sug in table.suggest(
        title=body.title,
        doc_type=body.doc_type,
        responsible=body.responsible,
        org_code=body.org_code,
    )[:5]:
        out.append(
            {
                "rule": sug.rule,
                "entry_code": sug.entry_code,
                "scope": sug.scope,
                "category": sug.category,
                "class_code": sug.class_code,
                "class_name": sug.class_name,
                "org_code": sug.org_code,
                "retention": sug.retention,
                "retention_label": inst.domain.table("retention").label(sug.retention),
                "reasons": list(sug.reasons),
            }
        )
    return out
