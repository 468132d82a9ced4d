"""What the public portal may show: published 开放 records (masked), and granted ones.

:func:`portal_record` is the one gate of the record page and the viewer: a record is shown when
it is published (开放 + active + 公开 + an approved 上网审查, :class:`Visibility` for the public —
with the masked values kept at publication), or when the viewing account holds a live grant for
exactly this record (an approved request). Anything else is "not found", so the portal never
tells whether a 控制, 延期开放 or 未审核 record exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from lantai.access.copies import PageCounts, page_count_columns, page_counts
from lantai.access.requests import GRANTABLE, active_grant
from lantai.archival import Level
from lantai.catalogue import Catalogue
from lantai.search.permissions import Visibility
from lantai.store import PublicationState, PublishedRecord, PublishedText, Record
from lantai.store.shared import built_once

__all__ = ["PortalRecord", "fonds_with_published", "portal_record"]

_PUBLIC = Visibility(public=True, max_rank=0)
_HIDDEN_FIELDS = {"collections"}


@dataclass
class PortalRecord:
    id: int
    level: str
    archival_code: str | None
    title: str
    responsible: str | None
    date: str | None
    year: int | None
    retention: str | None
    doc_number: str | None
    pages: int | None
    open_status: str | None
    fonds_code: str | None
    fonds_title: str | None
    access: str  # published | granted
    grant_expires: datetime | None = None
    grant_request: int | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    page_counts: PageCounts | None = None  # read with ``with_pages`` (the record page)

    @property
    def level_label(self) -> str:
        return Level(self.level).label


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "；".join(str(v) for v in value if v not in (None, ""))
    return "" if value is None else str(value)


def _labelled(
    catalogue: Catalogue, category: str | None, values: dict[str, Any]
) -> list[tuple[str, str]]:
    scheme = catalogue.scheme_for(category)
    out = []
    for key, value in values.items():
        if key in _HIDDEN_FIELDS or value in (None, "", []):
            continue
        el = scheme.element(key)
        out.append((el.name if el else key, _fmt(value)))
    return out


_FONDS = aliased(Record, name="fonds")


@built_once
def _statement(with_texts: bool, with_pages: bool) -> Select[*tuple[Any, ...]]:
    """The record, its 全宗, whether the public may see it (:class:`Visibility`'s rule, ``public``),
    its published (masked) form, and — when it is public — its published texts (one row each);
    optionally its :func:`page_count_columns`. One statement (built once) instead of one per
    table: the record page is the busiest page of the portal."""
    public = _PUBLIC.sql()
    stmt: Select[*tuple[Any, ...]] = (
        select(
            Record.id,
            Record.level,
            Record.archival_code,
            Record.title,
            Record.responsible,
            Record.date,
            Record.year,
            Record.retention,
            Record.doc_number,
            Record.pages,
            Record.open_status,
            Record.category,
            Record.lifecycle,
            Record.security_rank,
            Record.fields,
            _FONDS.archival_code.label("fonds_code"),
            _FONDS.title.label("fonds_title"),
            public.label("public"),
            PublishedRecord.record_id.label("pub_id"),
            PublishedRecord.title.label("pub_title"),
            PublishedRecord.responsible.label("pub_responsible"),
            PublishedRecord.fields.label("pub_fields"),
        )
        .outerjoin(_FONDS, _FONDS.id == Record.fonds_id)
        .outerjoin(PublishedRecord, PublishedRecord.record_id == Record.id)
        .where(Record.id == bindparam("record_id"))
    )
    if with_texts:  # only ever read for a record the public may see
        stmt = stmt.add_columns(
            PublishedText.part.label("text_part"), PublishedText.text.label("text")
        )
        stmt = stmt.outerjoin(
            PublishedText, and_(PublishedText.record_id == Record.id, public)
        ).order_by(PublishedText.id)
    if with_pages:
        stmt = stmt.add_columns(*page_count_columns(Record.id))
    return stmt


def portal_record(
    catalogue: Catalogue,
    session: Session | Connection,
    record_id: int,
    user_id: int | None,
    *,
    with_texts: bool = True,
    with_pages: bool = False,
) -> PortalRecord | None:
    """What the portal may show of ``record_id`` to ``user_id`` (None: the public), or None.

    ``with_pages`` also reads the record's :class:`PageCounts` (``PortalRecord.page_counts``).
    ``session`` may be a plain connection (the record page: no ORM session to set up)."""
    conn = session.connection() if isinstance(session, Session) else session
    rows = conn.execute(_statement(with_texts, with_pages), {"record_id": record_id}).all()
    if not rows:
        return None
    rec = rows[0]
    common: dict[str, Any] = {
        "id": rec.id,
        "level": rec.level,
        "archival_code": rec.archival_code,
        "date": rec.date,
        "year": rec.year,
        "retention": rec.retention,
        "doc_number": rec.doc_number,
        "pages": rec.pages,
        "open_status": rec.open_status,
        "fonds_code": rec.fonds_code,
        "fonds_title": rec.fonds_title,
        "page_counts": page_counts(rec) if with_pages else None,
    }
    if rec.public:
        assert rec.pub_id is not None
        texts = (
            [(r.text_part, r.text) for r in rows if r.text_part is not None] if with_texts else []
        )
        return PortalRecord(
            **common,
            title=rec.pub_title,
            responsible=rec.pub_responsible,
            access="published",
            fields=_labelled(catalogue, rec.category, rec.pub_fields or {}),
            texts=texts,
        )
    if user_id is None:
        return None
    if isinstance(session, Session):
        grant = active_grant(session, user_id, record_id)
    else:
        with Session(bind=session) as orm:  # joins the connection's transaction
            grant = active_grant(orm, user_id, record_id)
    if (
        grant is None
        or rec.lifecycle != "active"
        or rec.security_rank > 0
        or rec.open_status not in GRANTABLE
    ):
        return None
    return PortalRecord(
        **common,
        title=rec.title,
        responsible=rec.responsible,
        access="granted",
        grant_expires=grant.expires_at,
        grant_request=grant.request_id,
        fields=_labelled(catalogue, rec.category, rec.fields or {}),
    )


def fonds_with_published(session: Session) -> list[tuple[str, str, int]]:
    """(全宗号, 全宗名称, published records) of every 全宗 with at least one published record.

    Read from ``published_records`` (by its state index) into ``records``: the cost follows the
    published records, not the whole catalogue."""
    fonds = aliased(Record)
    rows = session.execute(
        select(fonds.archival_code, fonds.title, func.count(Record.id))
        .select_from(PublishedRecord)
        .join(Record, Record.id == PublishedRecord.record_id)
        .join(fonds, fonds.id == Record.fonds_id)
        .where(PublishedRecord.state == PublicationState.PUBLISHED.value, _PUBLIC.sql())
        .group_by(fonds.archival_code, fonds.title)
        .order_by(fonds.archival_code)
    )
    return [(code or "", title, int(n)) for code, title, n in rows]
