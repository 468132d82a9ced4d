"""OAI-PMH set membership of the published open catalogue (the provider reads only this).

Sets (``setSpec``):

* ``open`` — every published record (开放档案目录);
* ``open:fonds:<全宗号>`` — the published records of one 全宗.

A member is a record that has ever been published. It is **deleted** (OAI-PMH ``status="deleted"``,
``deletedRecord=persistent``) when it was unpublished, or when it is no longer 开放 or no longer
active even though nobody unpublished it yet (checked here, at query time). Its datestamp is the
last publication change, or the record's last update when that is later and made it deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select

from lantai.errors import NotFound, Problem, ValidationFailed
from lantai.store import PublicationState, PublishedRecord, Record

__all__ = [
    "OPEN_SET",
    "OaiSet",
    "SetMember",
    "count_open_catalogue_page",
    "list_open_catalogue_sets",
    "open_catalogue_member",
    "open_catalogue_page",
    "open_catalogue_set_members",
]

OPEN_SET = "open"
_FONDS_PREFIX = "open:fonds:"
_OPEN = "开放"


@dataclass(frozen=True)
class OaiSet:
    spec: str
    name: str


@dataclass(frozen=True)
class SetMember:
    record_id: int
    identifier: str  # the record's uid (the provider prefixes its oai: namespace)
    archival_code: str | None
    fonds_code: str | None
    level: str
    datestamp: datetime
    deleted: bool


_FONDS = aliased(Record, name="fonds")


def list_open_catalogue_sets(session: Session) -> list[OaiSet]:
    """``open`` and one ``open:fonds:<全宗号>`` per 全宗 with published records (ever)."""
    rows = session.execute(
        select(_FONDS.archival_code, _FONDS.title)
        .join(Record, Record.fonds_id == _FONDS.id)
        .join(PublishedRecord, PublishedRecord.record_id == Record.id)
        .distinct()
        .order_by(_FONDS.archival_code)
    ).all()
    out = [OaiSet(OPEN_SET, "开放档案目录")]
    out += [OaiSet(f"{_FONDS_PREFIX}{code}", f"开放档案目录：{title}") for code, title in rows]
    return out


def _parse(set_spec: str) -> str | None:
    """The 全宗号 of a fonds set, None for ``open``; ValidationFailed for anything else."""
    if set_spec == OPEN_SET:
        return None
    if set_spec.startswith(_FONDS_PREFIX) and len(set_spec) > len(_FONDS_PREFIX):
        return set_spec[len(_FONDS_PREFIX) :].upper()
    raise ValidationFailed(
        "集合名有误",
        [
            Problem(
                message=f"「{set_spec}」不是开放档案目录的集合：应为 open 或 open:fonds:<全宗号>",
                field="set",
                value=set_spec,
                rule="OAI-PMH setSpec",
            )
        ],
    )


def open_catalogue_set_members(
    session: Session,
    set_spec: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[SetMember]:
    """The members of a set (deleted ones included), ordered by datestamp then id.

    ``since``/``until`` bound the datestamp (inclusive), as OAI-PMH ``from``/``until`` do.
    """
    fonds = _parse(set_spec)
    q = (
        select(
            Record.id,
            Record.uid,
            Record.archival_code,
            _FONDS.archival_code,
            Record.level,
            Record.open_status,
            Record.lifecycle,
            Record.updated_at,
            PublishedRecord.state,
            PublishedRecord.datestamp,
        )
        .join(PublishedRecord, PublishedRecord.record_id == Record.id)
        .outerjoin(_FONDS, _FONDS.id == Record.fonds_id)
    )
    if fonds is not None:
        fid = session.scalar(
            select(Record.id).where(Record.level == "fonds", Record.archival_code == fonds)
        )
        if fid is None:
            raise NotFound(f"全宗「{fonds}」不存在")
        q = q.where(Record.fonds_id == fid)
    out: list[SetMember] = []
    for rid, uid, code, fcode, level, status, lifecycle, updated, state, stamp in session.execute(
        q
    ):
        withdrawn = status != _OPEN or lifecycle != "active"
        deleted = state != PublicationState.PUBLISHED.value or withdrawn
        if state == PublicationState.PUBLISHED.value and withdrawn and updated > stamp:
            stamp = updated  # the change that took it off the portal
        if (since is not None and stamp < since) or (until is not None and stamp > until):
            continue
        out.append(SetMember(int(rid), uid, code, fcode, level, stamp, deleted))
    out.sort(key=lambda m: (m.datestamp, m.record_id))
    return out


def active_members(members: Sequence[SetMember]) -> list[SetMember]:
    return [m for m in members if not m.deleted]


# -- keyset pages (the OAI-PMH provider at scale) ------------------------------------------------
#
# ``open_catalogue_set_members`` builds the whole list; the provider pages instead, on the index
# ``published_records (datestamp, record_id)``. A page orders and filters on the stored publication
# datestamp. A record whose 开放标识 or lifecycle changed without being unpublished yet is
# reported deleted at once (its values are never exposed) with that stored datestamp; when
# ``PublicationService.reconcile`` unpublishes it, its datestamp moves and incremental harvesters
# see the deletion.


_PageSelect = Select[int, str, str | None, str | None, str, str | None, str, str, datetime]


def _page_query(session: Session, set_spec: str) -> _PageSelect:
    fonds = _parse(set_spec)
    q = (
        select(
            Record.id,
            Record.uid,
            Record.archival_code,
            _FONDS.archival_code,
            Record.level,
            Record.open_status,
            Record.lifecycle,
            PublishedRecord.state,
            PublishedRecord.datestamp,
        )
        .select_from(PublishedRecord)
        .join(Record, PublishedRecord.record_id == Record.id)
        .outerjoin(_FONDS, _FONDS.id == Record.fonds_id)
    )
    if fonds is not None:
        fid = session.scalar(
            select(Record.id).where(Record.level == "fonds", Record.archival_code == fonds)
        )
        if fid is None:
            raise NotFound(f"全宗「{fonds}」不存在")
        q = q.where(Record.fonds_id == fid)
    return q


def _bounded(q: _PageSelect, since: datetime | None, until: datetime | None) -> _PageSelect:
    if since is not None:
        q = q.where(PublishedRecord.datestamp >= since)
    if until is not None:
        q = q.where(PublishedRecord.datestamp <= until)
    return q


def open_catalogue_page(
    session: Session,
    set_spec: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = 100,
) -> list[SetMember]:
    """Up to ``limit`` members after the keyset ``after`` = (datestamp, record_id), in that order."""
    q = _bounded(_page_query(session, set_spec), since, until)
    if after is not None:
        q = q.where(tuple_(PublishedRecord.datestamp, PublishedRecord.record_id) > tuple_(*after))
    q = q.order_by(PublishedRecord.datestamp, PublishedRecord.record_id).limit(limit)
    out: list[SetMember] = []
    for rid, uid, code, fcode, level, status, lifecycle, state, stamp in session.execute(q):
        deleted = (
            state != PublicationState.PUBLISHED.value or status != _OPEN or (lifecycle != "active")
        )
        out.append(SetMember(int(rid), uid, code, fcode, level, stamp, deleted))
    return out


def count_open_catalogue_page(
    session: Session,
    set_spec: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """How many members :func:`open_catalogue_page` would return in all (deleted ones included)."""
    q = _bounded(_page_query(session, set_spec), since, until)
    return int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)


def open_catalogue_member(session: Session, record_id: int) -> SetMember | None:
    """One record's membership of ``open`` (None when it was never published)."""
    q = _page_query(session, OPEN_SET).where(Record.id == record_id)
    row = session.execute(q).first()
    if row is None:
        return None
    rid, uid, code, fcode, level, status, lifecycle, state, stamp = row
    deleted = state != PublicationState.PUBLISHED.value or status != _OPEN or lifecycle != "active"
    return SetMember(int(rid), uid, code, fcode, level, stamp, deleted)
