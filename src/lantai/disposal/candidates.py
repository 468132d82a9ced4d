"""到期鉴定 candidates: records whose 保管期限 has expired.

A record is a candidate when it is active, is a disposal unit (a 案卷, or a 件 not inside a
案卷: the 件 of a 案卷 are disposed of with it), has a retention code whose code table entry
carries ``years`` (D10, D30; 永久 and the legacy 长期/短期 never expire here), and its 形成年度 +
years ≤ the year of ``as_of``. The 形成年度 is computed as for 开放审核
(:func:`lantai.appraisal.candidates.formation_year`: own year, end of own date, latest 件 of a
案卷). An executed 延长保管期限 replaces the retention (the record's 档号 keeps its code; the
extension is recorded in ``disposal_items``); records already in an open batch are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from lantai.appraisal.candidates import formation_year
from lantai.archival.codes import CodeTable
from lantai.store import DisposalBatch, DisposalItem, Record, RecordClosure

__all__ = ["Expired", "effective_retention", "find_expired"]


@dataclass(frozen=True, slots=True)
class Expired:
    record_id: int
    archival_code: str | None
    title: str
    level: str
    fonds_id: int | None
    category: str | None
    retention: str
    formation_year: int
    expiry_year: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "archival_code": self.archival_code,
            "title": self.title,
            "level": self.level,
            "fonds_id": self.fonds_id,
            "category": self.category,
            "retention": self.retention,
            "formation_year": self.formation_year,
            "expiry_year": self.expiry_year,
        }


def effective_retention(session: Session, record_ids: list[int]) -> dict[int, str]:
    """The latest executed extension of each record, if any (record id → retention code)."""
    out: dict[int, str] = {}
    if not record_ids:
        return out
    rows = session.execute(
        select(DisposalItem.record_id, DisposalItem.new_retention)
        .where(DisposalItem.record_id.in_(record_ids), DisposalItem.state == "extended")
        .order_by(DisposalItem.done_at, DisposalItem.id)
    )
    for rid, code in rows:
        if code:
            out[int(rid)] = code
    return out


def find_expired(
    session: Session,
    retention: CodeTable,
    *,
    as_of: date | None = None,
    fonds_id: int | None = None,
) -> list[Expired]:
    today = as_of or date.today()
    years = {e.code: e.years for e in retention.entries if e.years}
    if not years:
        return []
    parent = aliased(Record)
    child = aliased(Record)
    cl = aliased(RecordClosure)
    child_max = (
        select(func.max(child.year))
        .select_from(cl)
        .join(child, child.id == cl.descendant_id)
        .where(cl.ancestor_id == Record.id, cl.depth > 0)
        .correlate(Record)
        .scalar_subquery()
    )
    pending = (
        select(DisposalItem.record_id)
        .join(DisposalBatch, DisposalBatch.id == DisposalItem.batch_id)
        .where(DisposalBatch.state == "open")
    )
    stmt = (
        select(
            Record.id,
            Record.archival_code,
            Record.title,
            Record.level,
            Record.fonds_id,
            Record.category,
            Record.retention,
            Record.year,
            Record.date,
            child_max,
        )
        .outerjoin(parent, parent.id == Record.parent_id)
        .where(
            Record.lifecycle == "active",
            Record.level.in_(("file", "item")),
            (Record.level == "file") | parent.level.is_(None) | (parent.level != "file"),
            Record.retention.is_not(None),
            Record.id.not_in(pending),
        )
        .order_by(Record.fonds_id, Record.id)
    )
    if fonds_id is not None:
        stmt = stmt.where(Record.fonds_id == fonds_id)
    rows = session.execute(stmt).all()
    extended = effective_retention(session, [r[0] for r in rows])
    out = []
    for rid, code, title, level, fid, cat, ret, own_year, own_date, kids in rows:
        ret = extended.get(rid, ret)
        period = years.get(ret)
        if period is None:
            continue
        fy = formation_year(own_year, own_date, kids if level == "file" else None)
        if fy is None or fy + period > today.year:
            continue
        out.append(Expired(rid, code, title, level, fid, cat, ret, fy, fy + period))
    return out
