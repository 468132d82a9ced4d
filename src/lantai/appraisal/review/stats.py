"""开放审核 statistics: opened this year and the open rate per fonds.

开放率 = review units that are 开放 / all active review units (a 案卷, or a 件 not inside a 案卷),
per fonds and in total. "Opened this year" counts the review units whose applied review
(``record_open_reviews``) made them 开放 with a review date in the current year.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from lantai.store import Record, RecordOpenReview

__all__ = ["review_stats"]

_STATUSES = ("开放", "控制", "延期开放", "未审核")


def review_stats(
    s: Session, *, today: date | None = None, fonds_id: int | None = None
) -> dict[str, Any]:
    today = today or date.today()
    parent = aliased(Record)
    fonds = aliased(Record)
    status = func.coalesce(Record.open_status, "未审核")
    unit_cond = (
        (Record.lifecycle == "active")
        & Record.level.in_(("file", "item"))
        & ((Record.level == "file") | parent.level.is_(None) | (parent.level != "file"))
    )
    stmt = (
        select(Record.fonds_id, status, func.count())
        .outerjoin(parent, parent.id == Record.parent_id)
        .where(unit_cond)
        .group_by(Record.fonds_id, status)
    )
    opened = (
        select(Record.fonds_id, func.count())
        .select_from(RecordOpenReview)
        .join(Record, Record.id == RecordOpenReview.record_id)
        .outerjoin(parent, parent.id == Record.parent_id)
        .where(
            unit_cond,
            Record.open_status == "开放",
            RecordOpenReview.open_status == "开放",
            RecordOpenReview.reviewed_on >= date(today.year, 1, 1),
            RecordOpenReview.reviewed_on <= today,
        )
        .group_by(Record.fonds_id)
    )
    if fonds_id is not None:
        stmt = stmt.where(Record.fonds_id == fonds_id)
        opened = opened.where(Record.fonds_id == fonds_id)
    per: dict[int | None, dict[str, int]] = {}
    for fid, st, n in s.execute(stmt):
        bucket = per.setdefault(fid, {})
        key = st if st in _STATUSES else "未审核"
        bucket[key] = bucket.get(key, 0) + int(n)
    opened_by = {fid: int(n) for fid, n in s.execute(opened)}
    names = {
        fid: (code, title)
        for fid, code, title in s.execute(
            select(fonds.id, fonds.archival_code, fonds.title).where(
                fonds.id.in_([f for f in per if f is not None])
            )
        )
    }
    rows = []
    total_units = total_open = total_opened = 0
    for fid in sorted(per, key=lambda f: (names.get(f or 0, ("", ""))[0] or "", f or 0)):
        counts = {k: per[fid].get(k, 0) for k in _STATUSES}
        units = sum(counts.values())
        code, title = names.get(fid or 0, (None, ""))
        rows.append(
            {
                "fonds_id": fid,
                "fonds_code": code,
                "fonds_name": title,
                "units": units,
                "by_status": counts,
                "opened_this_year": opened_by.get(fid, 0),
                "open_rate": round(counts["开放"] / units, 4) if units else 0.0,
            }
        )
        total_units += units
        total_open += counts["开放"]
        total_opened += opened_by.get(fid, 0)
    return {
        "as_of": today.isoformat(),
        "year": today.year,
        "fonds": rows,
        "total": {
            "units": total_units,
            "open": total_open,
            "opened_this_year": total_opened,
            "open_rate": round(total_open / total_units, 4) if total_units else 0.0,
        },
    }
