"""The search service: one function from (actor, parameters) to a page of results with facets.

The search box (``q``), "search within results" (``within``: earlier queries, all ANDed) and the
structured parameters (per-field text, facet values, year and date ranges) become one AST, compiled
into one tantivy query together with the actor's visibility clauses (:mod:`.permissions`); hits,
the total and the facet counts all come from that one query, so nothing hidden is ever counted.
Hits are displayed from the database rows (re-checked against the same visibility rule), with the
query's words marked in the catalogue fields and in a snippet of the full text.

The ranked ids and the facet counts of a query are cached per index commit
(:class:`~lantai.search.cache.ResultCache`, keyed by ``Snapshot.version``): a repeated query
(the portal's popular searches, a page reloaded, the next page's facets) costs only the
database re-check of its hits, and any commit — new, changed, published or unpublished records —
starts afresh.

The public sees published records only, and only their **masked** public form (上网审查,
``published_records`` / ``published_texts``): hits show the masked 题名/责任者 and snippets of the
masked texts, and a published record whose masked text differs from the master is matched on its
masked fields (``schema.PUBLIC_TEXT_FIELDS``), so searching for a masked ID number finds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any, Literal

import tantivy
from sqlalchemy import Connection, Select, bindparam, func, select
from sqlalchemy.orm import aliased

from lantai.archival import Level
from lantai.errors import Problem, ValidationFailed
from lantai.instance import Instance
from lantai.search.cache import LRU, ResultCache
from lantai.search.errors import IndexUnavailable
from lantai.search.highlight import Matcher, Segment, segments, snippet
from lantai.search.index import SearchReader, Snapshot
from lantai.search.permissions import Visibility
from lantai.search.query import (
    FACET_NAMES,
    And,
    Facet,
    Node,
    Or,
    Range,
    compile_query,
    estimate_hits,
    highlight_terms,
    parse,
)
from lantai.search.schema import BUCKETS as SAMPLE_BUCKETS
from lantai.search.schema import PUBLIC_TEXT_FIELDS
from lantai.security import Actor
from lantai.store import PublishedRecord, PublishedText, Record, RecordText
from lantai.store.shared import built_once

__all__ = [
    "FacetValue",
    "Hit",
    "SearchParams",
    "SearchResults",
    "SearchService",
    "Sort",
]

Sort = Literal["relevance", "date_desc", "date_asc"]
SORTS: dict[str, str] = {
    "relevance": "相关度",
    "date_desc": "日期（新→旧）",
    "date_asc": "日期（旧→新）",
}
MAX_PAGE_SIZE = 100
MAX_WINDOW = 10_000
SNIPPET_SCAN = 400_000
FACET_EXACT_LIMIT = 50_000
SAMPLE_TARGET = 20_000
_FACET_SIZES = {
    "fonds": 200,
    "category": 50,
    "year": 400,
    "retention": 20,
    "open_status": 20,
    "security": 20,
    "collections": 200,
}
_AGGS = {name: {"terms": {"field": name, "size": size}} for name, size in _FACET_SIZES.items()}
# Counted facets: facet name → ((value, document count), …), in the order tantivy returned them.
Counts = dict[str, tuple[tuple[str, int], ...]]
_TEXT_PARAMS = {
    "title": "title",
    "responsible": "responsible",
    "code": "code",
    "docno": "docno",
    "fulltext": "fulltext",
}
# what SearchService.plan reads of the parameters: the key of its LRU of plans
_PLAN_KEY = attrgetter(
    "q",
    "within",
    *_TEXT_PARAMS,
    *(name for name in FACET_NAMES if name != "year"),
    "year_from",
    "year_to",
    "date_from",
    "date_to",
)
PLAN_ENTRIES = 4096
_TABLES = {
    "category": "category",
    "retention": "retention",
    "open_status": "open_status",
    "security": "security_level",
}


_FONDS = aliased(Record, name="fonds")
# The displayed columns of the hits of one page (compiled once; ids bound as an expanding list).
_HIT_ROWS = (
    select(
        Record.id,
        Record.level,
        Record.archival_code,
        Record.title,
        Record.responsible,
        Record.date,
        Record.year,
        Record.retention,
        Record.security_level,
        Record.open_status,
        Record.doc_number,
        Record.category,
        _FONDS.archival_code.label("fonds_code"),
    )
    .outerjoin(_FONDS, _FONDS.id == Record.fonds_id)
    .where(Record.id.in_(bindparam("ids", expanding=True)))
)
_HIT_TEXTS = (
    select(RecordText.record_id, RecordText.part, func.substr(RecordText.text, 1, SNIPPET_SCAN))
    .where(RecordText.record_id.in_(bindparam("ids", expanding=True)))
    .order_by(RecordText.record_id, RecordText.id)
)
# The public's hits: the same columns and the masked public form of 题名/责任者 (上网审查), in the
# same statement.
_PUBLIC_HIT_ROWS = _HIT_ROWS.add_columns(
    PublishedRecord.record_id.label("pub_id"),
    PublishedRecord.title.label("pub_title"),
    PublishedRecord.responsible.label("pub_responsible"),
).outerjoin(PublishedRecord, PublishedRecord.record_id == Record.id)


@built_once
def _hit_rows(visibility: Visibility) -> Select[*tuple[Any, ...]]:
    """The hit rows a visibility class may see (shared by the request threads: built once)."""
    return (_PUBLIC_HIT_ROWS if visibility.public else _HIT_ROWS).where(visibility.sql())


_PUBLIC_TEXTS = (
    select(
        PublishedText.record_id,
        PublishedText.part,
        func.substr(PublishedText.text, 1, SNIPPET_SCAN),
    )
    .where(PublishedText.record_id.in_(bindparam("ids", expanding=True)))
    .order_by(PublishedText.record_id, PublishedText.id)
)
_FONDS_NAMES = select(Record.archival_code, Record.title).where(Record.level == Level.FONDS.value)
# Which query fields mark which displayed value (words without a field mark everywhere).
_SHOWN = {
    "title": ("title",),
    "responsible": ("responsible",),
    "archival_code": ("code",),
    "doc_number": ("docno",),
    "fulltext": ("fulltext",),
}


@dataclass(frozen=True)
class SearchParams:
    """Everything a search request can say. Empty means "not restricted"."""

    q: str = ""
    within: tuple[str, ...] = ()
    title: str = ""
    responsible: str = ""
    code: str = ""
    docno: str = ""
    fulltext: str = ""
    fonds: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    retention: tuple[str, ...] = ()
    open_status: tuple[str, ...] = ()
    security: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    date_from: str = ""
    date_to: str = ""
    sort: str = "relevance"
    page: int = 1
    size: int = 20
    facets: bool = True


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass(frozen=True)
class Hit:
    id: int
    level: str
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
    highlights: dict[str, list[Segment]] = field(default_factory=dict)
    snippet_part: str | None = None

    @property
    def level_label(self) -> str:
        return Level(self.level).label


@dataclass(frozen=True)
class SearchResults:
    total: int
    page: int
    size: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    took_ms: float
    generation: str
    sort: str
    facets_sampled: float | None = None  # share of the hits the facet counts were taken from

    @property
    def pages(self) -> int:
        reachable = min(self.total, MAX_WINDOW)
        return max(1, -(-reachable // self.size))


def _problem(param: str, value: object, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"检索参数有误：{message}",
        [Problem(field=param, value=str(value), rule="检索参数", message=message)],
    )


class SearchService:
    """Searches the live index of one instance (see the module docstring)."""

    def __init__(self, inst: Instance, reader: SearchReader) -> None:
        self.inst = inst
        self.reader = reader
        self._fonds: dict[str, str] = {}
        self._fonds_loaded = 0.0
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lantai-facets")
        self.cache = ResultCache()
        self._plans: LRU[tuple[tuple[Node, ...], tuple[Node, ...]]] = LRU(PLAN_ENTRIES)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- parameters → AST ------------------------------------------------------------------------

    def resolve_facet(self, name: str, value: str) -> str | None:
        """What an archivist types (文书, 永久, JM) → the stored code; None when invalid."""
        value = value.strip()
        if not value:
            return None
        if name == "fonds":
            return value.upper()
        if name == "collections":
            return value
        table = self.inst.domain.table(_TABLES[name])
        code = table.normalize(value)
        if code is None and name == "security":
            code = table.normalize(value.split("★")[0])
        return code

    def plan(self, params: SearchParams) -> tuple[list[Node], list[Node]]:
        """(query nodes, filter nodes) of the parameters; raises ValidationFailed on any error.

        Kept per query (an LRU; errors are not kept): planning reads only the parameters and the
        instance's code tables (loaded once per Instance), and parsing a repeated query
        again cost ~3 % of a cached public search.
        """
        key = _PLAN_KEY(params)
        planned = self._plans.get(key)
        if planned is None:
            query, filters = self._plan(params)
            planned = (tuple(query), tuple(filters))
            self._plans.put(key, planned)
        return list(planned[0]), list(planned[1])

    def _plan(self, params: SearchParams) -> tuple[list[Node], list[Node]]:
        query: list[Node] = []
        for param, text in (("q", params.q), *(("within", w) for w in params.within)):
            parsed = parse(text, param=param, resolve_facet=self.resolve_facet)
            if parsed.root is not None:
                query.append(parsed.root)
        for param, name in _TEXT_PARAMS.items():
            text = getattr(params, param)
            if text.strip():
                parsed = parse(text, param=param, field_name=name)
                if parsed.root is not None:
                    query.append(parsed.root)
        filters: list[Node] = []
        for name in FACET_NAMES:
            if name == "year":
                continue
            values: tuple[str, ...] = getattr(params, name)
            codes = []
            for v in values:
                code = self.resolve_facet(name, v)
                if code is None:
                    raise _problem(name, v, f"「{v}」不是有效的{FACET_NAMES[name]}")
                codes.append(Facet(name, code, 0))
            if codes:
                filters.append(codes[0] if len(codes) == 1 else Or(tuple(codes)))
        if params.year_from is not None or params.year_to is not None:
            lo, hi = params.year_from, params.year_to
            for param, y in (("year_from", lo), ("year_to", hi)):
                if y is not None and not 1000 <= y <= 2999:
                    raise _problem(param, y, "年度应为四位年份")
            if lo is not None and hi is not None and lo > hi:
                raise _problem("year_from", lo, f"起始年度 {lo} 晚于终止年度 {hi}")
            filters.append(Range("year", lo, hi, 0))
        if params.date_from.strip() or params.date_to.strip():
            text = f"{params.date_from.strip()}..{params.date_to.strip()}"
            parsed = parse(text, param="date_from", field_name="date")
            if parsed.root is not None:
                filters.append(parsed.root)
        return query, filters

    def _check_paging(self, params: SearchParams) -> None:
        if params.sort not in SORTS:
            raise _problem("sort", params.sort, f"排序方式应为：{'、'.join(SORTS)}")
        if not 1 <= params.size <= MAX_PAGE_SIZE:
            raise _problem("size", params.size, f"每页条数应在 1 到 {MAX_PAGE_SIZE} 之间")
        if params.page < 1:
            raise _problem("page", params.page, "页码从 1 开始")
        if params.page * params.size > MAX_WINDOW:
            raise _problem(
                "page",
                params.page,
                f"只能翻阅前 {MAX_WINDOW} 条结果，请增加检索词或用分面缩小范围",
            )

    # -- searching -------------------------------------------------------------------------------

    def search(self, actor: Actor, params: SearchParams) -> SearchResults:
        started = time.perf_counter()
        self._check_paging(params)
        query_nodes, filter_nodes = self.plan(params)
        snap = self.reader.snapshot()
        if snap is None:
            raise IndexUnavailable("检索索引尚未建立或正在重建，请稍后再试")
        visibility = Visibility.of(actor)
        nodes = query_nodes + filter_nodes
        # the page's ranked ids, and the facet counts (the same for every page and order)
        page_key = (snap.version, visibility.key, replace(params, facets=False))
        facet_key = (snap.version, visibility.key, replace(params, page=1, size=1, sort=""))
        ranked = self.cache.ranked.get(page_key)
        counted = self.cache.facets.get(facet_key) if params.facets else None
        query: tantivy.Query | None = None
        if ranked is None or (params.facets and counted is None):
            clauses: list[tuple[tantivy.Occur, tantivy.Query]] = [
                (tantivy.Occur.Must, self._compile(snap, And(tuple(nodes)), visibility))
                if nodes
                else (tantivy.Occur.Must, tantivy.Query.all_query())
            ]
            clauses += visibility.clauses(snap.schema, snap.searcher)
            query = tantivy.Query.boolean_query(clauses)
        facet_job: Future[tuple[Counts, int]] | None = None
        if params.facets and counted is None and query is not None:
            # counted in parallel with the ranking (tantivy releases the GIL)
            sample = self._sample_buckets(snap, And(tuple(nodes)) if nodes else None)
            facet_job = self._pool.submit(self._aggregate, snap, query, sample)
        if ranked is None:
            assert query is not None
            ranked = self._rank(snap, query, params)
            self.cache.ranked.put(page_key, ranked)
        total, scores, ids = ranked
        if facet_job is not None:
            assert query is not None
            counts, buckets = facet_job.result()
            if buckets and total <= FACET_EXACT_LIMIT:  # the estimate was too high: count exactly
                counts, buckets = self._aggregate(snap, query, 0)
            counted = (counts, buckets)
            self.cache.facets.put(facet_key, counted)
        facets: dict[str, list[FacetValue]] = {}
        sampled: float | None = None
        if counted is not None and total:
            counts, buckets = counted
            facets = self._facets(counts, SAMPLE_BUCKETS / buckets if buckets else 1, params)
            sampled = buckets / SAMPLE_BUCKETS if buckets else None
        terms = [t for n in query_nodes for t in highlight_terms(n)]
        hits = self._hits(ids, scores, visibility, terms)
        return SearchResults(
            total=total,
            page=params.page,
            size=params.size,
            hits=hits,
            facets=facets,
            took_ms=(time.perf_counter() - started) * 1000,
            generation=snap.generation,
            sort=params.sort,
            facets_sampled=sampled,
        )

    @staticmethod
    def _rank(
        snap: Snapshot, query: tantivy.Query, params: SearchParams
    ) -> tuple[int, tuple[float, ...], tuple[int, ...]]:
        """(total, scores, record ids) of the requested page."""
        offset = (params.page - 1) * params.size
        if params.sort == "date_desc":
            result = snap.searcher.search(
                query, params.size, offset=offset, order_by_field="date", order=tantivy.Order.Desc
            )
        elif params.sort == "date_asc":
            result = snap.searcher.search(
                query,
                params.size,
                offset=offset,
                order_by_field="date_asc",
                order=tantivy.Order.Asc,
            )
        else:
            result = snap.searcher.search(query, params.size, offset=offset)
        total = int(getattr(result, "count", 0) or 0)  # missing from tantivy's stub
        values = snap.searcher.fast_field_values("id", [a for _, a in result.hits])
        page = [
            (float(s), int(i))
            for (s, _), i in zip(result.hits, values, strict=True)
            if i is not None
        ]
        return total, tuple(s for s, _ in page), tuple(i for _, i in page)

    @staticmethod
    def _compile(snap: Snapshot, node: Node, visibility: Visibility) -> tantivy.Query:
        """The query of ``node``; for the public, documents with masked text are matched on it."""
        query = compile_query(snap.schema, node)
        if not visibility.public or not snap.searcher.doc_freq("masked", "1"):
            return query
        masked = tantivy.Query.term_query(snap.schema, "masked", "1")
        public = compile_query(snap.schema, node, PUBLIC_TEXT_FIELDS)
        return tantivy.Query.boolean_query(
            [
                (
                    tantivy.Occur.Should,
                    tantivy.Query.boolean_query(
                        [(tantivy.Occur.Must, query), (tantivy.Occur.MustNot, masked)]
                    ),
                ),
                (
                    tantivy.Occur.Should,
                    tantivy.Query.boolean_query(
                        [(tantivy.Occur.Must, public), (tantivy.Occur.Must, masked)]
                    ),
                ),
            ]
        )

    # -- facets ------------------------------------------------------------------------------------

    def _sample_buckets(self, snap: Snapshot, node: Node | None) -> int:
        """0 for exact facet counts; else how many of the 64 id buckets to count facets on.

        Counting facets costs time in proportion to the hits. When the hits may exceed
        ``FACET_EXACT_LIMIT`` (an upper bound from term statistics, :func:`estimate_hits`), they
        are counted on enough buckets for about ``SAMPLE_TARGET`` hits and scaled; the total is
        always exact, and facets are recounted exactly if the total turns out small.
        """
        if snap.searcher.num_docs <= FACET_EXACT_LIMIT:
            return 0
        estimate = estimate_hits(snap.searcher, node)
        if estimate <= FACET_EXACT_LIMIT:
            return 0
        return max(1, min(SAMPLE_BUCKETS, -(-SAMPLE_BUCKETS * SAMPLE_TARGET // estimate)))

    @staticmethod
    def _aggregate(snap: Snapshot, query: tantivy.Query, buckets: int) -> tuple[Counts, int]:
        if buckets:
            query = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, query),
                    (
                        tantivy.Occur.Must,
                        tantivy.Query.range_query(
                            snap.schema,
                            "bucket",
                            tantivy.FieldType.Integer,
                            0,
                            buckets - 1,
                            use_inverted_index=True,
                        ),
                    ),
                ]
            )
        raw: Mapping[str, Any] = snap.searcher.aggregate(query, _AGGS)
        counts: Counts = {
            name: tuple(
                (str(int(b["key"])) if name == "year" else str(b["key"]), int(b["doc_count"]))
                for b in raw.get(name, {}).get("buckets", [])
            )
            for name in _AGGS
        }
        return counts, buckets

    def _facets(
        self, counts: Counts, scale: float, params: SearchParams
    ) -> dict[str, list[FacetValue]]:
        out: dict[str, list[FacetValue]] = {}
        fonds_names = self._fonds_names([key for key, _ in counts.get("fonds", ())])
        for name in _FACET_SIZES:
            if name not in counts:
                continue
            selected = self._selected(name, params)
            values = []
            for key, count in counts[name]:
                values.append(
                    FacetValue(
                        value=key,
                        label=self._label(name, key, fonds_names),
                        count=round(count * scale),
                        selected=key in selected,
                    )
                )
            if name == "year":
                values.sort(key=lambda v: v.value, reverse=True)
            out[name] = values
        return out

    def _selected(self, name: str, params: SearchParams) -> set[str]:
        if name == "year":
            if params.year_from is not None and params.year_from == params.year_to:
                return {str(params.year_from)}
            return set()
        return {c for v in getattr(params, name) if (c := self.resolve_facet(name, v))}

    def _label(self, name: str, key: str, fonds_names: Mapping[str, str]) -> str:
        if name == "fonds":
            title = fonds_names.get(key)
            return f"{key} {title}" if title else key
        if name in ("category", "retention"):
            return self.inst.domain.table(name).label(key)
        return key

    def _fonds_names(self, codes: Sequence[str]) -> dict[str, str]:
        """全宗号 → 全宗名称, from a small cache refreshed every minute (fonds are few and stable)."""
        now = time.monotonic()
        if now - self._fonds_loaded > 60 or any(c not in self._fonds for c in codes):
            with self.inst.db.read() as s:
                rows = s.connection().execute(_FONDS_NAMES)
                self._fonds = {str(c): str(t) for c, t in rows}
            self._fonds_loaded = now
        return self._fonds

    # -- hits ----------------------------------------------------------------------------------------

    def _hits(
        self,
        ids: Sequence[int],
        scores: Sequence[float],
        visibility: Visibility,
        terms: Iterable[tuple[str | None, str]],
    ) -> list[Hit]:
        if not ids:
            return []
        statement = _hit_rows(visibility)
        by_field: dict[str, list[str]] = {}
        for f, t in terms:
            by_field.setdefault(f or "*", []).append(t)
        anywhere = by_field.get("*", [])
        matchers = {
            name: Matcher(anywhere + [t for f in fields for t in by_field.get(f, [])])
            for name, fields in _SHOWN.items()
        }
        text_matcher = matchers["fulltext"]
        # a plain connection (no ORM session: only columns are read)
        with self.inst.db.engine.connect() as conn:
            rows = {int(r.id): r for r in conn.execute(statement, {"ids": ids})}
            shown = [i for i in ids if i in rows]
            if not text_matcher:
                texts = {}
            elif visibility.public:  # the masked public form, never the master
                texts = self._texts(conn, shown, _PUBLIC_TEXTS)
            else:
                texts = self._texts(conn, shown)
        hits = []
        for rid, score in zip(ids, scores, strict=False):
            r = rows.get(rid)
            if r is None:
                continue  # changed since it was indexed; the indexer will catch up
            highlights: dict[str, list[Segment]] = {}
            if visibility.public and r.pub_id is not None:
                title, responsible = r.pub_title, r.pub_responsible
            else:
                title, responsible = r.title, r.responsible
            for name, value in (
                ("title", title),
                ("responsible", responsible),
                ("archival_code", r.archival_code),
                ("doc_number", r.doc_number),
            ):
                if value:
                    m = matchers[name]
                    highlights[name] = segments(value, m.spans(value)) if m else [Segment(value)]
            part = None
            for part_name, text in texts.get(rid, []):
                found = snippet(text, text_matcher)
                if found:
                    highlights["fulltext"] = found
                    part = part_name
                    break
            hits.append(
                Hit(
                    id=rid,
                    level=r.level,
                    archival_code=r.archival_code,
                    title=title,
                    responsible=responsible,
                    date=r.date,
                    year=r.year,
                    retention=r.retention,
                    security_level=r.security_level,
                    open_status=r.open_status,
                    doc_number=r.doc_number,
                    fonds_code=r.fonds_code,
                    category=r.category,
                    score=score,
                    highlights=highlights,
                    snippet_part=part,
                )
            )
        return hits

    @staticmethod
    def _texts(
        conn: Connection, ids: list[int], statement: Any = _HIT_TEXTS
    ) -> dict[int, list[tuple[str, str]]]:
        out: dict[int, list[tuple[str, str]]] = {}
        if not ids:
            return out
        for rid, part, text in conn.execute(statement, {"ids": ids}):
            out.setdefault(int(rid), []).append((part, text))
        return out
