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

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from lantai.access.requests import GRANTABLE, active_grant
from lantai.archival import Level
from lantai.catalogue import Catalogue
from lantai.search.permissions import Visibility
from lantai.store import PublicationState, PublishedRecord, PublishedText, Record

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

    @property
    def level_label(self) -> str:
        return Level(self.level).label


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "；".join(str(v) for v in value if v not in (None, ""))
    return "" if value is None else str(value)


def _labelled(catalogue: Catalogue, rec: Record, values: dict[str, Any]) -> list[tuple[str, str]]:
    scheme = catalogue.scheme_for(rec.category)
    out = []
    for key, value in values.items():
        if key in _HIDDEN_FIELDS or value in (None, "", []):
            continue
        el = scheme.element(key)
        out.append((el.name if el else key, _fmt(value)))
    return out


def portal_record(
    catalogue: Catalogue,
    session: Session,
    record_id: int,
    user_id: int | None,
    *,
    with_texts: bool = True,
) -> PortalRecord | None:
    rec = session.get(Record, record_id)
    if rec is None:
        return None
    fonds = session.get(Record, rec.fonds_id) if rec.fonds_id else None
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
        "fonds_code": fonds.archival_code if fonds else None,
        "fonds_title": fonds.title if fonds else None,
    }
    public = session.scalar(select(Record.id).where(Record.id == record_id, _PUBLIC.sql()))
    if public is not None:
        pub = session.get(PublishedRecord, record_id)
        assert pub is not None
        texts = (
            [
                (t.part, t.text)
                for t in session.scalars(
                    select(PublishedText)
                    .where(PublishedText.record_id == record_id)
                    .order_by(PublishedText.id)
                )
            ]
            if with_texts
            else []
        )
        return PortalRecord(
            **common,
            title=pub.title,
            responsible=pub.responsible,
            access="published",
            fields=_labelled(catalogue, rec, pub.fields or {}),
            texts=texts,
        )
    grant = active_grant(session, user_id, record_id)
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
        fields=_labelled(catalogue, rec, rec.fields or {}),
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
