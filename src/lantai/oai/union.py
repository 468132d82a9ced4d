"""The union catalogue (联合目录): records harvested from partner archives, kept and searched.

One row per (source, OAI identifier). A newer datestamp replaces the row (a deleted record keeps
its identifier with ``deleted`` set and no values); an older one never overwrites a newer one, so
re-harvesting or duplicate pages are harmless. The raw ``<record>`` XML is kept as received.
Search is a simple folded substring match (traditional = simplified, full-width = half-width,
case-insensitive) over title, creator, subject, description and identifiers; ranked, cross-node
search is the federated search of issue 9.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from lantai.archival.text import fold_text
from lantai.store import UnionRecord, utcnow

__all__ = ["HarvestedRecord", "SourceSummary", "search_union", "store_records", "union_summary"]

_SEARCHED = ("title", "creator", "subject", "description", "identifier", "publisher", "date")


@dataclass(frozen=True)
class HarvestedRecord:
    identifier: str
    datestamp: str
    deleted: bool
    sets: list[str] = field(default_factory=list)
    dc: dict[str, list[str]] = field(default_factory=dict)
    raw_xml: str = ""

    @property
    def title(self) -> str:
        return "；".join(self.dc.get("title", []))[:2000]


def _search_text(rec: HarvestedRecord) -> str:
    return fold_text(" ".join(v for k in _SEARCHED for v in rec.dc.get(k, [])))


def store_records(
    session: Session, source: str, records: Iterable[HarvestedRecord], *, harvest_id: int | None
) -> int:
    """Insert or update ``records`` of ``source``; returns how many rows changed."""
    batch = list(records)
    if not batch:
        return 0
    existing = {
        r.identifier: r
        for r in session.scalars(
            select(UnionRecord).where(
                UnionRecord.source == source,
                UnionRecord.identifier.in_({r.identifier for r in batch}),
            )
        )
    }
    changed = 0
    for rec in batch:
        row = existing.get(rec.identifier)
        if row is not None and row.datestamp > rec.datestamp:
            continue  # never replace a newer version with an older one
        if row is None:
            row = UnionRecord(source=source, identifier=rec.identifier)
            session.add(row)
            existing[rec.identifier] = row
        row.datestamp = rec.datestamp
        row.deleted = rec.deleted
        row.set_specs = {"sets": rec.sets}
        row.title = "" if rec.deleted else rec.title
        row.dc = {} if rec.deleted else rec.dc
        row.search_text = "" if rec.deleted else _search_text(rec)
        row.raw_xml = rec.raw_xml
        row.harvest_id = harvest_id
        row.harvested_at = utcnow()
        changed += 1
    session.flush()
    return changed


def search_union(
    session: Session, q: str, *, source: str | None = None, limit: int = 50
) -> tuple[int, list[UnionRecord]]:
    """(total, first ``limit`` rows) of live union records matching every term of ``q``."""
    conds: list[ColumnElement[bool]] = [UnionRecord.deleted.is_(False)]
    if source:
        conds.append(UnionRecord.source == source)
    for term in fold_text(q).split():
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(UnionRecord.search_text.like(f"%{escaped}%", escape="\\"))
    where = and_(*conds)
    total = int(session.scalar(select(func.count()).select_from(UnionRecord).where(where)) or 0)
    rows = session.scalars(
        select(UnionRecord)
        .where(where)
        .order_by(UnionRecord.source, UnionRecord.datestamp.desc(), UnionRecord.id)
        .limit(limit)
    ).all()
    return total, list(rows)


@dataclass(frozen=True)
class SourceSummary:
    source: str
    records: int
    deleted: int
    last_datestamp: str | None


def union_summary(session: Session) -> Sequence[SourceSummary]:
    rows = session.execute(
        select(
            UnionRecord.source,
            func.count(),
            func.sum(case((UnionRecord.deleted.is_(True), 1), else_=0)),
            func.max(UnionRecord.datestamp),
        )
        .group_by(UnionRecord.source)
        .order_by(UnionRecord.source)
    ).all()
    return [SourceSummary(src, int(n), int(d or 0), last) for src, n, d, last in rows]
