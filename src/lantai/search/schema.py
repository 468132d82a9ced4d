"""The tantivy schema and how one catalogue record becomes one index document.

Text fields hold the analysed token strings of :mod:`lantai.search.analysis` and use tantivy's
``whitespace`` tokenizer; nothing is stored in the index but the record id (a fast field): hits
are displayed from the database, so the index stays small and never shows stale values.

Building a document is split in two so that all the Python work can run in worker processes:
:func:`doc_values` (analysis) and :func:`to_json` (the document as tantivy JSON, a plain string
that crosses a pipe cheaply); the writer only calls ``add_json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import tantivy

from lantai.search.analysis import (
    TokenCache,
    analyze,
    fold_many,
    runs,
    token_string,
    tokens_of_runs,
)

__all__ = [
    "BUCKETS",
    "FACET_FIELDS",
    "NO_DATE_ASC",
    "PUBLIC_TEXT_FIELDS",
    "PUBLISHED",
    "SCHEMA_VERSION",
    "SEPARATOR",
    "TEXT_FIELDS",
    "DocValues",
    "JsonMemo",
    "PublicValues",
    "RecordRow",
    "RowMemo",
    "build_schema",
    "date_key",
    "doc_values",
    "to_json",
]

# Bump when the schema or the analysis changes: an index of another version is rebuilt.
SCHEMA_VERSION = 5

# A token no query can produce: placed between separate values so a phrase never spans two.
SEPARATOR = "¦"
NO_DATE_ASC = 99_999_999

# Searchable text fields (whitespace tokenizer over analysed tokens).
TEXT_FIELDS = ("title", "responsible", "code", "docno", "other", "fulltext")
# The masked (public) form of the text fields that can hold personal data: only in documents of
# published records whose masked values differ from the master (``masked`` = "1"); public
# queries read these instead of the master fields for those documents (see permissions.py).
PUBLIC_TEXT_FIELDS = {
    "title": "pub_title",
    "responsible": "pub_responsible",
    "other": "pub_other",
    "fulltext": "pub_fulltext",
}
PUBLISHED = "1"
# Facet fields (exact, fast): 全宗, 门类, 年度, 保管期限, 开放标识, 密级, 专题库.
FACET_FIELDS = ("fonds", "category", "year", "retention", "open_status", "security", "collections")
_RAW_FAST = ("fonds", "category", "retention", "open_status", "security", "collections", "level")
_RAW_KEYS = ("code_key", "docno_key", "lifecycle", "published", "masked")
_INT_FIELDS = ("year", "rank", "date", "date_asc")
# Records fall into 64 buckets by id; facets of very large result sets are counted on a few.
BUCKETS = 64

# Elements of Record.fields that are codes, numbers or code-table values (文种, 语种 …: categories,
# not words; every 通知 has 通知 in its title anyway), not text anyone searches for.
_SKIP_FIELDS = frozenset(
    {
        "collections",
        "archive_code",
        "class_code",
        "subclass_code",
        "doc_type",
        "language",
        "urgency",
        "draft",
        "generation",
    }
)
_DATE = re.compile(r"\[?(\d{4})(?:[-./]?(0[1-9]|1[0-2])(?:[-./]?(0[1-9]|[12]\d|3[01]))?)?(?!\d)")


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", indexed=True, fast=True)
    for name in (*TEXT_FIELDS, *PUBLIC_TEXT_FIELDS.values()):
        sb.add_text_field(name, tokenizer_name="whitespace")
    for name in _RAW_FAST:
        sb.add_text_field(name, tokenizer_name="raw", fast=True, index_option="basic")
    for name in _RAW_KEYS:
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic")
    for name in _INT_FIELDS:
        sb.add_integer_field(name, indexed=True, fast=True)
    sb.add_integer_field("bucket", indexed=True)
    return sb.build()


class RecordRow(NamedTuple):
    """What the indexer reads from the database for one record (see ``indexer.ROW_COLUMNS``)."""

    id: int
    level: str
    fonds_code: str | None
    category: str | None
    archival_code: str | None
    title: str
    responsible: str | None
    date: str | None
    year: int | None
    retention: str | None
    security_level: str | None
    security_rank: int
    open_status: str | None
    doc_number: str | None
    fields: Any  # dict, or the JSON text as SQLite returns it
    lifecycle: str
    publication: str | None = None  # published_records.state (None: never published)


class PublicValues(NamedTuple):
    """The masked public form of a published record (``published_records``/``published_texts``)."""

    title: str
    responsible: str | None
    fields: Any
    texts: tuple[str, ...]


class DocValues(NamedTuple):
    """One index document as plain values (picklable): analysed strings, codes and numbers."""

    id: int
    level: str
    title: str
    responsible: str
    code: str
    docno: str
    other: str
    fulltext: str
    code_key: str
    docno_key: str
    fonds: str
    category: str
    retention: str
    open_status: str
    security: str
    collections: tuple[str, ...]
    year: int | None
    rank: int
    date: int
    lifecycle: str
    published: bool = False
    public: tuple[str, str, str, str] | None = None  # pub_title, pub_responsible, pub_other, …


def date_key(date: str | None, year: int | None) -> int:
    """YYYYMMDD as an integer (unknown month/day as 00) for sorting and date ranges; 0 if none.

    ``[20220815]`` (a 考证 date) and ranges (``20230210-20230628``: the start) are understood.
    """
    if date:
        if len(date) == 8 and date.isdigit():
            return int(date)
        m = _DATE.match(date.strip())
        if m:
            y, mo, d = m.group(1), m.group(2) or "00", m.group(3) or "00"
            return int(y) * 10_000 + int(mo) * 100 + int(d)
    return year * 10_000 if year else 0


def _words(fields: Mapping[str, Any]) -> Iterable[str]:
    for key, value in fields.items():
        if key in _SKIP_FIELDS:
            continue
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))


def _collections(fields: Mapping[str, Any]) -> tuple[str, ...]:
    value = fields.get("collections")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(v.strip() for v in value if isinstance(v, str) and v.strip()))


def _security_base(level: str | None) -> str:
    return (level or "公开").split("★")[0]


class RowMemo:
    """Per-batch memo of values repeated across records (责任者, and the ``fields`` JSON)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.tokens = TokenCache(limit)
        self._extra: dict[Any, tuple[str, tuple[str, ...]]] = {}
        self.limit = limit

    def extra(self, raw: Any) -> tuple[str, tuple[str, ...]]:
        """(analysed text of the other elements, 专题库 names) of a record's ``fields``."""
        if not raw:
            return "", ()
        key = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, ensure_ascii=False)
        found = self._extra.get(key)
        if found is None:
            fields = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(fields, Mapping):
                fields = {}
            other = f" {SEPARATOR} ".join(self.tokens(w) for w in _words(fields) if w.strip())
            found = (other, _collections(fields))
            if len(self._extra) >= self.limit:
                self._extra.clear()
            self._extra[key] = found
        return found


def doc_values(
    rows: Sequence[RecordRow],
    texts: Mapping[int, Sequence[str]] | None = None,
    *,
    memo: RowMemo | None = None,
    public: Mapping[int, PublicValues] | None = None,
) -> list[DocValues]:
    """Analyse records (and their full texts) into index values. Pure; safe in a worker.

    The short fields of the whole batch are folded in one pass (:func:`fold_many`), which is
    most of the cost of indexing a catalogue. ``public`` holds the masked values of published
    records; they are analysed only where they differ from the master.
    """
    memo = memo or RowMemo()
    texts = texts or {}
    folded = iter(
        fold_many(
            [x for r in rows for x in (r.title or "", r.archival_code or "", r.doc_number or "")]
        )
    )
    tokens, extra, find = memo.tokens, memo.extra, runs
    out: list[DocValues] = []
    put = out.append
    for row in rows:
        title, code, docno = next(folded), next(folded), next(folded)
        code_key = " ".join(find(code)) if code else ""
        if docno:
            docno_runs = find(docno)
            docno_key = " ".join(docno_runs)
            docno_tokens = docno_key if docno_key.isascii() else tokens_of_runs(docno_runs)
        else:
            docno_key = docno_tokens = ""
        other, collections = extra(row.fields)
        body = texts.get(row.id)
        date = row.date
        fulltext = f" {SEPARATOR} ".join(analyze(t) for t in body if t) if body else ""
        title_tokens = token_string(title)
        responsible = tokens(row.responsible) if row.responsible else ""
        published = row.publication == "published"
        masked = None
        if published and public and row.id in public:
            pv = public[row.id]
            pub = (
                analyze(pv.title),
                tokens(pv.responsible) if pv.responsible else "",
                extra(pv.fields)[0],
                f" {SEPARATOR} ".join(analyze(t) for t in pv.texts if t),
            )
            if pub != (title_tokens, responsible, other, fulltext):
                masked = pub
        put(
            DocValues(
                row.id,
                row.level,
                title_tokens,
                responsible,
                code_key if code_key.isascii() else tokens_of_runs(find(code)),
                docno_tokens,
                other,
                fulltext,
                code_key,
                docno_key,
                row.fonds_code or "",
                row.category or "",
                row.retention or "",
                row.open_status or "",
                _security_base(row.security_level),
                collections,
                row.year,
                row.security_rank or 0,
                int(date)
                if date and len(date) == 8 and date.isdigit()
                else date_key(date, row.year),
                row.lifecycle,
                published,
                masked,
            )
        )
    return out


class JsonMemo:
    """Escaped JSON strings of repeated code values (there are few distinct ones)."""

    def __init__(self) -> None:
        self._memo: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        found = self._memo.get(value)
        if found is None:
            if len(self._memo) > 100_000:
                self._memo.clear()
            found = self._memo[value] = json.dumps(value, ensure_ascii=False)
        return found


def to_json(v: DocValues, quote: JsonMemo | None = None) -> str:
    """The tantivy JSON document of analysed values (for ``IndexWriter.add_json``).

    Built by string concatenation rather than ``json.dumps`` of a dict (twice as fast; the index
    swallows tens of thousands of these a second), which is safe because token strings hold only
    word characters, spaces and SEPARATOR; code values from the database are escaped.
    """
    q = quote or JsonMemo()
    date = v.date
    out = (
        f'{{"id":{v.id},"bucket":{v.id % BUCKETS},"level":{q(v.level)},"rank":{v.rank},'
        f'"date":{date},"date_asc":{date or NO_DATE_ASC},"security":{q(v.security)}'
    )
    if v.year is not None:
        out += f',"year":{v.year}'
    if v.title:
        out += f',"title":"{v.title}"'
    if v.responsible:
        out += f',"responsible":"{v.responsible}"'
    if v.code:
        out += f',"code":"{v.code}","code_key":{q(v.code_key)}'
    if v.docno:
        out += f',"docno":"{v.docno}","docno_key":{q(v.docno_key)}'
    if v.other:
        out += f',"other":"{v.other}"'
    if v.fulltext:
        out += f',"fulltext":"{v.fulltext}"'
    if v.fonds:
        out += f',"fonds":{q(v.fonds)}'
    if v.category:
        out += f',"category":{q(v.category)}'
    if v.retention:
        out += f',"retention":{q(v.retention)}'
    if v.open_status:
        out += f',"open_status":{q(v.open_status)}'
    if v.collections:
        out += f',"collections":[{",".join(q(c) for c in v.collections)}]'
    if v.lifecycle != "active":  # never indexed today; kept so the permission clauses hold
        out += f',"lifecycle":{q(v.lifecycle)}'
    if v.published:
        out += f',"published":"{PUBLISHED}"'
        if v.public is not None:
            out += ',"masked":"1"'
            for name, value in zip(PUBLIC_TEXT_FIELDS.values(), v.public, strict=True):
                if value:
                    out += f',"{name}":"{value}"'
    return out + "}"
