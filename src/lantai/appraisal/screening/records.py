"""Screening records stored in the catalogue: load a review unit's values and texts, screen it.

A review unit is a 案卷 (with its 件) or a 件 not inside a 案卷, as in
:mod:`lantai.appraisal.candidates`. Results are returned, not stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from lantai.appraisal.screening.config import load_rules
from lantai.appraisal.screening.engine import Screener, SubRecord, TextPart
from lantai.appraisal.screening.model import RecordScreening
from lantai.errors import NotFound
from lantai.instance import Instance
from lantai.store import Record, RecordClosure, RecordText

__all__ = ["record_values", "review_units", "screen_record", "screen_units", "screener_for"]


def screener_for(inst: Instance) -> Screener:
    """A screener with the instance's rules (or the shipped ones) and its element names."""
    labels = {"category": "门类"}
    for scheme in inst.domain.schemes.values():
        for e in scheme.elements:
            labels.setdefault(e.key, e.name)
    rules = load_rules(config_dir=inst.settings.resolved_config_dir)
    return Screener(rules, labels=labels)


def record_values(rec: Record) -> dict[str, Any]:
    values = rec.values()
    values["category"] = rec.category
    return values


def _texts(session: Session, ids: Sequence[int]) -> dict[int, list[TextPart]]:
    out: dict[int, list[TextPart]] = defaultdict(list)
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        for rid, name, text in session.execute(
            select(RecordText.record_id, RecordText.part, RecordText.text)
            .where(RecordText.record_id.in_(part))
            .order_by(RecordText.record_id, RecordText.part)
        ):
            out[rid].append(TextPart(name, text))
    return out


def _children(session: Session, ids: Sequence[int]) -> dict[int, list[Record]]:
    out: dict[int, list[Record]] = defaultdict(list)
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        rows = session.execute(
            select(RecordClosure.ancestor_id, Record)
            .join(Record, Record.id == RecordClosure.descendant_id)
            .where(
                RecordClosure.ancestor_id.in_(part),
                RecordClosure.depth > 0,
                Record.lifecycle == "active",
            )
            .order_by(RecordClosure.ancestor_id, Record.position, Record.id)
        )
        for aid, rec in rows:
            out[aid].append(rec)
    return out


def screen_units(
    session: Session, screener: Screener, units: Sequence[Record]
) -> Iterator[RecordScreening]:
    """Screen each review unit (and, for a 案卷, its 件), loading texts in chunks."""
    for chunk in range(0, len(units), 200):
        recs = list(units[chunk : chunk + 200])
        files = [r.id for r in recs if r.level == "file"]
        kids = _children(session, files) if files else {}
        all_ids = [r.id for r in recs] + [c.id for cs in kids.values() for c in cs]
        texts = _texts(session, all_ids)
        for rec in recs:
            children = [
                SubRecord(c.id, c.archival_code, record_values(c), texts.get(c.id, []))
                for c in kids.get(rec.id, [])
            ]
            yield screener.screen(
                record_values(rec), texts.get(rec.id, []), record_id=rec.id, children=children
            )


def screen_record(session: Session, screener: Screener, record_id: int) -> RecordScreening:
    rec = session.get(Record, record_id)
    if rec is None:
        raise NotFound(f"条目 {record_id} 不存在")
    return next(screen_units(session, screener, [rec]))


def review_units(session: Session, fonds_id: int, year: int | None = None) -> list[Record]:
    """The active 案卷 and stand-alone 件 of one fonds (optionally of one year), in order."""
    parent = aliased(Record)
    stmt = (
        select(Record)
        .outerjoin(parent, parent.id == Record.parent_id)
        .where(
            Record.fonds_id == fonds_id,
            Record.lifecycle == "active",
            Record.level.in_(("file", "item")),
            (Record.level == "file") | parent.level.is_(None) | (parent.level != "file"),
        )
        .order_by(Record.id)
    )
    if year is not None:
        stmt = stmt.where(Record.year == year)
    return list(session.scalars(stmt))
