"""OAI-PMH endpoint (public: the published, masked 开放档案目录) and the union catalogue search.

``GET/POST /oai`` answers the six OAI-PMH 2.0 verbs (:mod:`lantai.oai.provider`); POST takes the
arguments as ``application/x-www-form-urlencoded``. ``GET /api/union/search`` lets staff search
the records harvested from partner archives (:mod:`lantai.oai.union`).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from lantai.oai.provider import OaiProvider
from lantai.oai.union import search_union
from lantai.security import Actor, Perm
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import get_instance, require

__all__ = ["router", "union_router"]

router = APIRouter(tags=["OAI-PMH"])
union_router = APIRouter(
    prefix="/api/union",
    tags=["联合目录"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
)

_MAX_BODY = 64 * 1024


# One handler, two operations (OAI-PMH allows GET and POST): each needs its own operation id.
@router.get(
    "/oai",
    operation_id="oai_pmh_get",
    summary="OAI-PMH 2.0 数据提供（仅已上网公布的开放档案目录，脱敏后）",
    response_class=Response,
)
@router.post(
    "/oai",
    operation_id="oai_pmh_post",
    summary="OAI-PMH 2.0 数据提供（POST，application/x-www-form-urlencoded）",
    response_class=Response,
)
async def oai(request: Request, _: Actor = require(Perm.PUBLIC)) -> Response:
    params = list(request.query_params.multi_items())
    if request.method == "POST":
        body = await request.body()
        params = parse_qsl(body[:_MAX_BODY].decode("utf-8", "replace"), keep_blank_values=True)
    base = str(request.url.replace(query="", fragment=""))
    provider = OaiProvider(get_instance(request), base)
    xml = await run_in_threadpool(provider.respond, params)
    return Response(xml, media_type="text/xml; charset=utf-8")


class UnionHitOut(BaseModel):
    source: str
    identifier: str
    datestamp: str
    title: str
    creators: list[str]
    dates: list[str]
    identifiers: list[str]


class UnionSearchOut(BaseModel):
    q: str
    total: int
    hits: list[UnionHitOut]


@union_router.get(
    "/search", response_model=UnionSearchOut, summary="检索联合目录（各馆收割的开放目录）"
)
def union_search(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    source: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    _: Actor = require(Perm.SEARCH_CATALOGUE),
) -> UnionSearchOut:
    inst = get_instance(request)
    with inst.db.read() as s:
        total, rows = search_union(s, q, source=source, limit=limit)
        hits = [
            UnionHitOut(
                source=r.source,
                identifier=r.identifier,
                datestamp=r.datestamp,
                title=r.title,
                creators=list(r.dc.get("creator", [])),
                dates=list(r.dc.get("date", [])),
                identifiers=list(r.dc.get("identifier", [])),
            )
            for r in rows
        ]
    return UnionSearchOut(q=q, total=total, hits=hits)
