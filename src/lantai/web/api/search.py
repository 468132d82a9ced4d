"""Search (一网通查): the staff search and the public portal search, one service underneath.

``GET /api/search`` searches as the logged-in user (their 密级授权 limits what is found);
``GET /api/public/search`` searches as the anonymous public, who find 开放 records only. Both take
the search-box query ``q`` and the same structured parameters; the pages call the same functions.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError, create_model

from lantai.errors import Problem, ValidationFailed
from lantai.search import IndexUnavailable, SearchParams, SearchResults, SearchRuntime
from lantai.search.highlight import Segment
from lantai.security import Actor, Perm
from lantai.web.api.schemas import ErrorOut
from lantai.web.deps import require
from lantai.web.openapi import documented_query
from lantai.web.ratelimit import limit

__all__ = [
    "PUBLIC_FACETS",
    "InvalidSearchParams",
    "SearchOut",
    "checked",
    "public_router",
    "router",
    "run_search",
    "search_json",
    "search_params",
]

# Facets shown to the public: 开放标识 and 密级 are the same for everything they can find.
PUBLIC_FACETS = ("fonds", "category", "year", "retention", "collections")
_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    422: {"model": ErrorOut},
    429: {"model": ErrorOut},  # the public search is rate-limited
    503: {"model": ErrorOut},
}
router = APIRouter(prefix="/api", tags=["检索"], responses=_RESPONSES)
public_router = APIRouter(prefix="/api/public", tags=["公众检索"], responses=_RESPONSES)
_YEAR = re.compile(r"\d{4}")


class SegmentOut(BaseModel):
    text: str
    mark: bool = False


class HitOut(BaseModel):
    id: int
    level: str
    level_label: str
    archival_code: str | None
    title: str
    responsible: str | None
    date: str | None
    year: int | None
    retention: str | None
    security_level: str | None
    open_status: str | None
    doc_number: str | None
    fonds_code: str | None
    category: str | None
    score: float
    highlights: dict[str, list[SegmentOut]]
    snippet_part: str | None = None


class FacetValueOut(BaseModel):
    value: str
    label: str
    count: int
    selected: bool = False


class SearchOut(BaseModel):
    total: int
    page: int
    size: int
    pages: int
    sort: str
    took_ms: float
    generation: str
    hits: list[HitOut]
    facets: dict[str, list[FacetValueOut]]
    facets_sampled: float | None = Field(
        None,
        description="分面计数为抽样估计时，抽样所占比例（命中超过 20 万条时）；精确计数时为空",
    )


def _segs(segs: list[Segment]) -> list[dict[str, Any]]:
    return [{"text": s.text, "mark": s.mark} for s in segs]


def search_json(res: SearchResults, *, public: bool = False) -> dict[str, Any]:
    """The :class:`SearchOut` document of ``res`` as plain JSON values.

    Built directly (not through the pydantic models, which the routes keep for the OpenAPI
    description): validating every highlight segment twice cost 15 % of the server's CPU under
    the portal load (bench/portal.py). ``tests/search/test_search_api.py`` checks the document
    against :class:`SearchOut`.
    """
    facets = {k: v for k, v in res.facets.items() if not public or k in PUBLIC_FACETS}
    return {
        "total": res.total,
        "page": res.page,
        "size": res.size,
        "pages": res.pages,
        "sort": res.sort,
        "took_ms": round(res.took_ms, 2),
        "generation": res.generation,
        "hits": [
            {
                "id": h.id,
                "level": h.level,
                "level_label": h.level_label,
                "archival_code": h.archival_code,
                "title": h.title,
                "responsible": h.responsible,
                "date": h.date,
                "year": h.year,
                "retention": h.retention,
                "security_level": None if public else h.security_level,
                "open_status": h.open_status,
                "doc_number": h.doc_number,
                "fonds_code": h.fonds_code,
                "category": h.category,
                "score": float(h.score),
                "highlights": {k: _segs(v) for k, v in h.highlights.items()},
                "snippet_part": h.snippet_part,
            }
            for h in res.hits
        ],
        "facets": {
            k: [
                {"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
                for v in values
            ]
            for k, values in facets.items()
        },
        "facets_sampled": res.facets_sampled,
    }


def _year(param: str, value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not _YEAR.fullmatch(value):
        raise ValidationFailed(
            "检索参数有误",
            [Problem(field=param, value=value, rule="检索参数", message="年度应为四位年份")],
        )
    return int(value)


def _query(
    q: Annotated[str, Query(max_length=1000, description="检索式（见文档：检索语言）")] = "",
    within: Annotated[
        list[str], Query(max_length=1000, description="在这些检索式的结果中检索（依次 AND）")
    ] = [],  # noqa: B006 - FastAPI copies defaults
    title: Annotated[str, Query(max_length=1000, description="题名")] = "",
    responsible: Annotated[str, Query(max_length=1000, description="责任者")] = "",
    code: Annotated[str, Query(max_length=1000, description="档号（整号或其中一段）")] = "",
    docno: Annotated[str, Query(max_length=1000, description="文号")] = "",
    fulltext: Annotated[str, Query(max_length=1000, description="全文")] = "",
    fonds: Annotated[list[str], Query(description="全宗号（可多选）")] = [],  # noqa: B006
    category: Annotated[list[str], Query(description="门类（代码或名称）")] = [],  # noqa: B006
    retention: Annotated[list[str], Query(description="保管期限")] = [],  # noqa: B006
    open_status: Annotated[list[str], Query(description="开放标识")] = [],  # noqa: B006
    security: Annotated[list[str], Query(description="密级")] = [],  # noqa: B006
    collection: Annotated[list[str], Query(description="专题库")] = [],  # noqa: B006
    year_from: Annotated[str, Query(max_length=8, description="起始年度")] = "",
    year_to: Annotated[str, Query(max_length=8, description="终止年度")] = "",
    date_from: Annotated[str, Query(max_length=20, description="起始日期，如 2010-03-01")] = "",
    date_to: Annotated[str, Query(max_length=20, description="终止日期")] = "",
    sort: Annotated[str, Query(description="relevance | date_desc | date_asc")] = "relevance",
    page: Annotated[int, Query(description="页码（从 1 开始）")] = 1,
    size: Annotated[int, Query(description="每页条数（1–100）")] = 20,
    facets: Annotated[bool, Query(description="是否返回分面统计")] = True,
) -> None:
    """The query parameters of the search routes, declared for FastAPI's OpenAPI document only.

    The routes do not declare them: FastAPI validated them one by one, 21 parameters at ~130 µs a
    request, the largest single cost of a public search (bench/portal.py). :func:`search_params`
    reads them in one pydantic call of :data:`_QUERY_MODEL`, built from this signature, and
    :func:`lantai.web.openapi.documented_query` documents them exactly as before.
    """


_PARAMS = inspect.signature(_query, eval_str=True).parameters
_QUERY_MODEL: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "SearchQuery", **{name: (p.annotation, p.default) for name, p in _PARAMS.items()}
)
# query parameters read as lists (FastAPI: every value given; none → the default)
_LISTS = frozenset(n for n, p in _PARAMS.items() if get_origin(get_args(p.annotation)[0]) is list)
SEARCH_QUERY_DOC = documented_query(_query)


@dataclass(frozen=True)
class InvalidSearchParams(SearchParams):
    """Query parameters FastAPI would have refused: :func:`checked` raises its 422 once every
    dependency of the route has run, where FastAPI raised it (a login redirect, a 403 or a 429 of
    a later dependency still wins, as before)."""

    errors: tuple[dict[str, Any], ...] = ()


def checked(params: SearchParams) -> SearchParams:
    """``params``, or the 422 of query parameters that failed their declared types and limits."""
    if isinstance(params, InvalidSearchParams):
        raise RequestValidationError(list(params.errors))
    return params


async def search_params(request: Request) -> SearchParams:  # async: no thread-pool hop
    """The request's search parameters (shared by the API routes and the pages).

    Read as FastAPI read the parameters :func:`_query` declares (the last value of a single one,
    every value of a list; unknown ones ignored), validated by the same pydantic types, so values
    and errors (``loc``, ``msg``) are the same; see :class:`InvalidSearchParams` for when.
    """
    query = request.query_params
    data: dict[str, Any] = {}
    for name in query:
        if name in _PARAMS:
            data[name] = query.getlist(name) if name in _LISTS else query[name]
    try:
        v: Any = _QUERY_MODEL.model_validate(data)
    except ValidationError as exc:
        return InvalidSearchParams(
            errors=tuple({**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False))
        )
    within: list[str] = v.within
    if len(within) > 10:
        raise ValidationFailed(
            "检索参数有误",
            [Problem(field="within", rule="检索参数", message="「在结果中检索」最多 10 层")],
        )
    return SearchParams(
        q=v.q,
        within=tuple(w for w in within if w.strip()),
        title=v.title,
        responsible=v.responsible,
        code=v.code,
        docno=v.docno,
        fulltext=v.fulltext,
        fonds=tuple(x for x in v.fonds if x.strip()),
        category=tuple(x for x in v.category if x.strip()),
        retention=tuple(x for x in v.retention if x.strip()),
        open_status=tuple(x for x in v.open_status if x.strip()),
        security=tuple(x for x in v.security if x.strip()),
        collections=tuple(x for x in v.collection if x.strip()),
        year_from=_year("year_from", v.year_from),
        year_to=_year("year_to", v.year_to),
        date_from=v.date_from,
        date_to=v.date_to,
        sort=v.sort,
        page=v.page,
        size=v.size,
        facets=v.facets,
    )


def _runtime(request: Request) -> SearchRuntime:
    runtime = getattr(request.app.state, "search", None)
    if not isinstance(runtime, SearchRuntime):
        raise IndexUnavailable("检索服务未启动")
    return runtime


def run_search(request: Request, actor: Actor, params: SearchParams) -> SearchResults:
    """Search as ``actor`` (the pages use this too); raises the 422 of invalid parameters."""
    return _runtime(request).service.search(actor, checked(params))


@router.get(
    "/search",
    response_model=SearchOut,
    summary="检索目录与全文（按本人密级授权）",
    openapi_extra=SEARCH_QUERY_DOC,
)
def search(
    request: Request,
    actor: Actor = require(Perm.SEARCH_CATALOGUE),  # first: no parameter check before login
    params: SearchParams = Depends(search_params),
) -> Response:
    return JSONResponse(search_json(run_search(request, actor, params)))


@public_router.get(
    "/search",
    response_model=SearchOut,
    summary="公众检索（仅开放档案）",
    openapi_extra=SEARCH_QUERY_DOC,
)
def public_search(
    request: Request,
    params: SearchParams = Depends(search_params),
    _: Actor = require(Perm.PUBLIC),
    __: None = limit("search"),
) -> Response:
    # Always the anonymous public, even for a logged-in visitor: the portal shows 开放 only.
    return JSONResponse(search_json(run_search(request, Actor.anonymous(), params), public=True))
