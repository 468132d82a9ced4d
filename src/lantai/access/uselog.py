"""利用登记: every use of a record, and the totals the annual statistics (codes 134–145) read.

One row per use: who (``person``: ``user:<id>`` for an account, ``visitor:<id>`` for an anonymous
portal session, ``walkin:<name>`` for a reading-room visitor without an account), user type
(单位/个人), purpose, channel (网上/到馆), kind (view, download, visit, copy, certificate), the
record, and for copies the pages. Online views and downloads are logged once per person, record,
kind and day, so paging through a file is one 卷（件）次.

* 人次 = distinct (person, day) pairs: one person using the archives on one day is one 人次;
* 卷（件）次 = use rows naming a record;
* 出具证明 (code 142) = certificates in 份: distinct requests among the ``certificate`` rows
  (a certificate issued for a request logs one row per cited record), plus rows without a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from lantai.store import UseLog

__all__ = ["CHANNELS", "KINDS", "Use", "annual_figures", "log_use", "totals"]

KINDS = {
    "view": "网上查阅",
    "download": "下载",
    "visit": "到馆阅览",
    "copy": "复制",
    "certificate": "出具证明",
}
CHANNELS = ("网上", "到馆")
_ONCE_A_DAY = ("view", "download")


@dataclass(frozen=True)
class Use:
    person: str
    user_type: str
    purpose: str
    channel: str
    kind: str
    record_id: int | None
    user_id: int | None = None
    request_id: int | None = None
    pages: int = 0


def log_use(session: Session, use: Use, *, now: datetime | None = None) -> bool:
    """Record ``use``; False when it is a repeat view/download of the same record the same day."""
    if use.kind not in KINDS or use.channel not in CHANNELS:
        raise ValueError(f"unknown use kind/channel: {use.kind}/{use.channel}")
    at = now or datetime.now(UTC)
    day = at.astimezone(UTC).date()
    if use.kind in _ONCE_A_DAY:
        seen = session.scalar(
            select(UseLog.id)
            .where(
                UseLog.person == use.person,
                UseLog.day == day,
                UseLog.record_id == use.record_id,
                UseLog.kind == use.kind,
            )
            .limit(1)
        )
        if seen is not None:
            return False
    session.add(
        UseLog(
            at=at,
            day=day,
            person=use.person[:80],
            user_id=use.user_id,
            user_type=use.user_type,
            purpose=use.purpose,
            channel=use.channel,
            kind=use.kind,
            record_id=use.record_id,
            request_id=use.request_id,
            pages=use.pages,
        )
    )
    return True


def _persons(session: Session, *conds: ColumnElement[bool]) -> int:
    sub = select(UseLog.person, UseLog.day).where(*conds).distinct().subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def totals(
    session: Session, start: date, end: date, *, channel: str | None = None
) -> dict[str, object]:
    """人次, 卷（件）次 and their breakdowns for ``start`` ≤ day ≤ ``end``."""
    base: list[ColumnElement[bool]] = [UseLog.day >= start, UseLog.day <= end]
    if channel:
        base.append(UseLog.channel == channel)
    items = int(
        session.scalar(select(func.count()).where(*base, UseLog.record_id.is_not(None))) or 0
    )
    by_purpose = {
        f"{ut}·{p}": _persons(session, *base, UseLog.user_type == ut, UseLog.purpose == p)
        for ut, p in session.execute(
            select(UseLog.user_type, UseLog.purpose).where(*base).distinct()
        )
    }
    by_channel = {c: _persons(session, *base, UseLog.channel == c) for c in CHANNELS}
    by_kind = {
        k: int(n)
        for k, n in session.execute(
            select(UseLog.kind, func.count()).where(*base).group_by(UseLog.kind)
        )
    }
    return {
        "persons": _persons(session, *base),
        "items": items,
        "by_purpose": dict(sorted(by_purpose.items())),
        "by_channel": by_channel,
        "by_kind": by_kind,
        "copy_pages": int(
            session.scalar(
                select(func.coalesce(func.sum(UseLog.pages), 0)).where(*base, UseLog.kind == "copy")
            )
            or 0
        ),
    }


def _certificates(session: Session, span: ColumnElement[bool]) -> int:
    """出具证明 in 份: one per request (a certificate citing several records logs one row per
    record, each a 卷（件）次), and one per row for certificates registered without a request."""
    cert = and_(span, UseLog.kind == "certificate")
    by_request = session.scalar(
        select(func.count(func.distinct(UseLog.request_id))).where(
            cert, UseLog.request_id.is_not(None)
        )
    )
    loose = session.scalar(select(func.count()).where(cert, UseLog.request_id.is_(None)))
    return int(by_request or 0) + int(loose or 0)


# code → (user type, purpose) for 136–140
_PURPOSE_CODES: dict[int, tuple[str, str]] = {
    136: ("单位", "工作查考"),
    137: ("单位", "其他"),
    138: ("个人", "学术研究"),
    139: ("个人", "权益维护"),
    140: ("个人", "其他"),
}


def annual_figures(session: Session, year: int, codes: Sequence[int] = ()) -> dict[int, int]:
    """The 利用 codes of the 档案馆基本情况表 for ``year`` (134–143; 144–145 are not recorded)."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    span = and_(UseLog.day >= start, UseLog.day <= end)
    out = {
        134: _persons(session, span),
        135: int(
            session.scalar(select(func.count()).where(span, UseLog.record_id.is_not(None))) or 0
        ),
        141: int(
            session.scalar(
                select(func.coalesce(func.sum(UseLog.pages), 0)).where(span, UseLog.kind == "copy")
            )
            or 0
        ),
        142: _certificates(session, span),
        143: _persons(session, span, UseLog.channel == "网上"),
    }
    for code, (ut, purpose) in _PURPOSE_CODES.items():
        out[code] = _persons(session, span, UseLog.user_type == ut, UseLog.purpose == purpose)
    wanted = set(codes) or set(out)
    return {k: out[k] for k in sorted(out) if k in wanted}
