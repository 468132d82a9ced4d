"""Search pages: ``/search`` for staff and ``/public/search`` for the public portal.

Both are server-rendered (no script needed) over the same functions as the JSON API: a search
form, results with the query's words marked, facets with counts as links that narrow the results,
"search within results", sorting and pages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote_plus, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from lantai.errors import LantaiError
from lantai.search import SearchParams, SearchResults
from lantai.search.query import FACET_NAMES
from lantai.search.service import SORTS, FacetValue, Hit
from lantai.security import Actor, Perm
from lantai.web.api.search import PUBLIC_FACETS, checked, run_search, search_params
from lantai.web.deps import require
from lantai.web.pages.render import render

__all__ = ["marked", "router"]

router = APIRouter(include_in_schema=False)

# SearchParams attribute → query parameter name (multi-valued ones repeat).
_SINGLE = (
    "q",
    "title",
    "responsible",
    "code",
    "docno",
    "fulltext",
    "date_from",
    "date_to",
    "sort",
)
_MULTI = {
    "fonds": "fonds",
    "category": "category",
    "retention": "retention",
    "open_status": "open_status",
    "security": "security",
    "collections": "collection",
}
_FIELD_LABELS = {
    "title": "题名",
    "responsible": "责任者",
    "code": "档号",
    "docno": "文号",
    "fulltext": "全文",
    "date_from": "起始日期",
    "date_to": "终止日期",
}


def marked(hit: Hit, name: str) -> Markup:
    """The template filter ``hit|marked(name)``: the highlight segments of the hit's value ``name``
    as HTML, the query's words in ``<mark>`` (empty when it has none). A Python function: as a
    Jinja macro over ``hit.highlights.get(name, [])``, called four or five times for each hit,
    it took a quarter of the results page's rendering."""
    return Markup(
        "".join(
            f"<mark>{escape(s.text)}</mark>" if s.mark else escape(s.text)
            for s in hit.highlights.get(name, ())
        )
    )


def _pairs(p: SearchParams) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name in _SINGLE:
        value = getattr(p, name)
        if value and not (name == "sort" and value == "relevance"):
            out.append((name, value))
    out += [("within", w) for w in p.within]
    for attr, key in _MULTI.items():
        out += [(key, v) for v in getattr(p, attr)]
    if p.year_from is not None:
        out.append(("year_from", str(p.year_from)))
    if p.year_to is not None:
        out.append(("year_to", str(p.year_to)))
    if p.size != 20:
        out.append(("size", str(p.size)))
    if p.page != 1:
        out.append(("page", str(p.page)))
    return out


def _href(base: str, p: SearchParams) -> str:
    pairs = _pairs(p)
    return f"{base}?{urlencode(pairs)}" if pairs else base


@dataclass(frozen=True)
class Link:
    label: str
    href: str
    count: int = 0
    selected: bool = False

    @property
    def count_text(self) -> str:
        """The count with thousands separators (a property: cheaper in a template than a call)."""
        return f"{self.count:,}"


def _toggle(p: SearchParams, name: str, value: str, selected: bool) -> SearchParams:
    if name == "year":
        year = None if selected else int(value)
        return replace(p, year_from=year, year_to=year, page=1)
    current: tuple[str, ...] = getattr(p, name)
    kept = tuple(v for v in current if v != value) if selected else (*current, value)
    changes: dict[str, Any] = {name: kept}
    return replace(p, page=1, **changes)


def _facet_links(
    base: str,
    p: SearchParams,
    name: str,
    values: list[FacetValue],
    first_pairs: list[tuple[str, str]],
) -> list[Link]:
    """The links of one facet: ``_href(base, _toggle(p, name, value, selected))`` for each value,
    with the query parameters of everything else (``first_pairs``: ``_pairs(replace(p, page=1))``)
    encoded once (a results page shows up to 150 facet values; building each link from scratch
    took ~2.5 ms per page)."""
    keys = ("year_from", "year_to") if name == "year" else (_MULTI[name],)
    others = urlencode([(k, v) for k, v in first_pairs if k not in keys])
    current: tuple[str, ...] = () if name == "year" else getattr(p, name)
    encoded = {x: f"{keys[0]}={quote_plus(x)}" for x in current}
    links = []
    for v in values:
        if name == "year":
            year = quote_plus(v.value)
            own = [] if v.selected else [f"year_from={year}", f"year_to={year}"]
        elif v.selected:
            own = [e for x, e in encoded.items() if x != v.value]
        else:
            own = [*encoded.values(), f"{keys[0]}={quote_plus(v.value)}"]
        query = "&".join([others, *own] if others else own)
        links.append(Link(v.label, f"{base}?{query}" if query else base, v.count, v.selected))
    return links


def _page_href(base: str, first_query: str, n: int) -> str:
    """``_href(base, replace(p, page=n))``, given ``first_query``: the encoded ``_pairs`` of
    ``replace(p, page=1)`` (the page number comes last, and not at all for the first page)."""
    query = "&".join(q for q in (first_query, "" if n == 1 else f"page={n}") if q)
    return f"{base}?{query}" if query else base


def _view(base: str, p: SearchParams, res: SearchResults | None, public: bool) -> dict[str, Any]:
    first_pairs = _pairs(replace(p, page=1))  # shared by the facet and page links
    facets: list[tuple[str, list[Link]]] = []
    if res is not None:
        for name, values in res.facets.items():
            if public and name not in PUBLIC_FACETS:
                continue
            links = _facet_links(base, p, name, values[:30], first_pairs)
            if links:
                facets.append((FACET_NAMES[name], links))
    active: list[Link] = []
    for name, label in _FIELD_LABELS.items():
        value = getattr(p, name)
        if value:
            cleared: dict[str, Any] = {name: ""}
            active.append(Link(f"{label}：{value}", _href(base, replace(p, page=1, **cleared))))
    for attr in _MULTI:
        for v in getattr(p, attr):
            active.append(Link(f"{FACET_NAMES[attr]}：{v}", _href(base, _toggle(p, attr, v, True))))
    if p.year_from is not None or p.year_to is not None:
        span = (
            f"{p.year_from or ''}"
            if p.year_from == p.year_to
            else f"{p.year_from or '…'}—{p.year_to or '…'}"
        )
        active.append(
            Link(f"年度：{span}", _href(base, replace(p, year_from=None, year_to=None, page=1)))
        )
    for i, w in enumerate(p.within):
        active.append(
            Link(
                f"在结果中：{w}",
                _href(base, replace(p, within=p.within[:i] + p.within[i + 1 :], page=1)),
            )
        )
    pages: list[Link] = []
    prev_href = next_href = None
    if res is not None and res.pages > 1:
        first_query = urlencode(first_pairs)
        first = max(1, p.page - 4)
        for n in range(first, min(res.pages, first + 9) + 1):
            pages.append(Link(str(n), _page_href(base, first_query, n), selected=n == p.page))
        if p.page > 1:
            prev_href = _page_href(base, first_query, p.page - 1)
        if p.page < res.pages:
            next_href = _page_href(base, first_query, p.page + 1)
    sorts = [
        Link(label, _href(base, replace(p, sort=key, page=1)), selected=p.sort == key)
        for key, label in SORTS.items()
    ]
    within_hidden = _pairs(
        replace(p, q="", page=1, within=(*p.within, p.q) if p.q.strip() else p.within)
    )
    return {
        "base": base,
        "params": p,
        "res": res,
        "facets": facets,
        "active": active,
        "pages": pages,
        "prev_href": prev_href,
        "next_href": next_href,
        "sorts": sorts,
        "within_hidden": within_hidden,
        "public": public,
    }


def _wants_results(p: SearchParams) -> bool:
    return any(
        (
            p.q.strip(),
            p.within,
            p.title,
            p.responsible,
            p.code,
            p.docno,
            p.fulltext,
            p.fonds,
            p.category,
            p.retention,
            p.open_status,
            p.security,
            p.collections,
            p.year_from,
            p.year_to,
            p.date_from,
            p.date_to,
        )
    )


def _page(
    request: Request,
    template: str,
    actor: Actor,
    searcher: Actor,
    p: SearchParams,
    base: str,
    public: bool,
) -> Response:
    p = checked(p)  # the 422 of invalid query parameters, where FastAPI raised it
    res: SearchResults | None = None
    error: LantaiError | None = None
    if _wants_results(p):
        try:
            res = run_search(request, searcher, p)
        except LantaiError as exc:
            error = exc
    status = error.status if error is not None else 200
    return render(
        request, template, actor, status_code=status, error=error, **_view(base, p, res, public)
    )


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    p: SearchParams = Depends(search_params),
    actor: Actor = require(Perm.SEARCH_CATALOGUE),
) -> Response:
    return _page(request, "search.html", actor, actor, p, "/search", public=False)


@router.get("/public/search", response_class=HTMLResponse)
def public_search_page(
    request: Request,
    p: SearchParams = Depends(search_params),
    actor: Actor = require(Perm.PUBLIC),
) -> Response:
    # The portal always searches as the anonymous public (开放 records only).
    return _page(
        request, "public_search.html", actor, Actor.anonymous(), p, "/public/search", public=True
    )
