"""The holdings summary, maintained from the append-only event log (like the search indexer).

:func:`catch_up` reads the events after the cursor and, in one write transaction:

* collects the *dirty partitions* (全宗, 门类, 年度) of every record an event names — an event about
  one record (``object_type`` ``record``, with the old 年度 of an edit), a list ``record_ids`` or
  an id range ``first_id``/``last_id`` of an unknown bulk action, or a 挂接 run
  (``digitisation:batch:linked``: the records its scan batch's pages belong to) — and
  recomputes each of them from the records, exactly, stamping it with the head of the event
  log seen by the same snapshot;
* adds the records of bulk *creations* (``catalogue:records:generated``/``created``) as deltas to
  partitions recomputed before that event (a partition stamped at or after the event already
  counts them), so 10,000,000 generated records cost one pass over their id ranges;
* records the dated acts no record column keeps (a record opened: ``open_status`` → 开放);
* moves the cursor.

Event sequence order is commit order (the audit chain is appended under a lock held to commit),
and the transaction reads one snapshot (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ``REPEATABLE
READ``), so a recomputed partition holds exactly the events up to its stamp. The summary is
therefore exact once caught up; :func:`check` proves it against the records and :func:`rebuild`
recomputes everything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    delete,
    extract,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased

from lantai.audit import EventType
from lantai.store import (
    DashboardCursor,
    DashboardHolding,
    DashboardPartition,
    DashboardTransition,
    Database,
    Event,
    PublicationState,
    PublishedRecord,
    Record,
    RecordFile,
    ScanBatch,
    ScanPage,
)
from lantai.store.base import utcnow

__all__ = [
    "DIMENSIONS",
    "MEASURES",
    "CatchUp",
    "Mismatch",
    "Partition",
    "catch_up",
    "check",
    "cursor",
    "head",
    "rebuild",
]

CURSOR = "holdings"
OPENED = "opened"
OPEN = "开放"
EVENT_BATCH = 2000
DIMENSIONS = (
    "fonds_id",
    "category",
    "year",
    "unit",
    "lifecycle",
    "open_status",
    "carrier",
    "generation",
    "created_year",
    "published_year",
)
_NDIM = len(DIMENSIONS)
MEASURES = (
    "records",
    "digitised",
    "files",
    "bytes",
    "pages",
    "minutes",
    "scanned",
    "frames",
)
_CREATIONS = frozenset(
    {EventType.CATALOGUE_RECORDS_GENERATED.value, EventType.CATALOGUE_RECORDS_CREATED.value}
)
# Events that name records but change nothing the summary counts.
_NEUTRAL = frozenset(
    {
        EventType.CATALOGUE_TEXT_ADDED.value,
        EventType.CATALOGUE_TEXTS_ADDED.value,
        EventType.CATALOGUE_EXPORT_CREATED.value,
    }
)

# A 挂接 run names its scan batch, not the records its pages were attached to.
_LINKED = EventType.DIGITISATION_BATCH_LINKED.value

Partition = tuple[int, str, int]  # (fonds_id or 0, category or "", year or 0)


@dataclass
class CatchUp:
    """What one :func:`catch_up` did."""

    events: int = 0
    partitions: int = 0
    delta_records: int = 0
    openings: int = 0
    seq: int = 0
    head: int = 0
    seconds: float = 0.0

    @property
    def lag(self) -> int:
        return max(0, self.head - self.seq)


@dataclass(frozen=True)
class Mismatch:
    """A summary row that differs from the records (the partition and both values)."""

    partition: Partition
    dims: tuple[Any, ...]
    summary: tuple[int, ...]
    records: tuple[int, ...]


# -- the aggregate query -----------------------------------------------------------------------


_PARENT = aliased(Record, name="parent_record")


def _aggregate(session: Session, where: ColumnElement[bool]) -> list[tuple[Any, ...]]:
    """One row per dimension tuple (with the partition) for the records matching ``where``."""
    files = (
        select(func.count())
        .where(RecordFile.record_id == Record.id)
        .correlate(Record)
        .scalar_subquery()
    )
    size = (
        select(func.coalesce(func.sum(RecordFile.size), 0))
        .where(RecordFile.record_id == Record.id)
        .correlate(Record)
        .scalar_subquery()
    )
    scans = (
        select(func.count())
        .where(ScanPage.record_id == Record.id)
        .correlate(Record)
        .scalar_subquery()
    )
    published_year = func.coalesce(
        select(extract("year", PublishedRecord.published_at).cast(Integer))
        .where(
            PublishedRecord.record_id == Record.id,
            PublishedRecord.state == PublicationState.PUBLISHED.value,
        )
        .correlate(Record)
        .scalar_subquery(),
        0,
    )
    unit = case(
        (and_(Record.level == "item", _PARENT.level == "file"), literal("file_item")),
        else_=Record.level,
    )
    carrier = func.coalesce(func.substr(Record.fields["carrier"].as_string(), 1, 32), "")
    generation = func.coalesce(func.substr(Record.fields["generation"].as_string(), 1, 16), "")
    minutes = func.coalesce(Record.fields["duration_minutes"].as_integer(), 0)
    inner = (
        select(
            func.coalesce(Record.fonds_id, 0).label("fonds_id"),
            func.coalesce(Record.category, "").label("category"),
            func.coalesce(Record.year, 0).label("year"),
            unit.label("unit"),
            Record.lifecycle.label("lifecycle"),
            func.coalesce(Record.open_status, "").label("open_status"),
            carrier.label("carrier"),
            generation.label("generation"),
            extract("year", Record.created_at).cast(Integer).label("created_year"),
            published_year.label("published_year"),
            files.label("n_files"),
            size.label("n_bytes"),
            func.coalesce(Record.pages, 0).label("n_pages"),
            minutes.label("n_minutes"),
            scans.label("n_scans"),
        )
        .outerjoin(_PARENT, _PARENT.id == Record.parent_id)
        .where(where)
        .subquery()
    )
    c = inner.c
    dims = [c[d] for d in DIMENSIONS]
    q = select(
        *dims,
        func.count(),
        func.sum(case((c.n_files > 0, 1), else_=0)),
        func.sum(c.n_files),
        func.sum(c.n_bytes),
        func.sum(c.n_pages),
        func.sum(c.n_minutes),
        func.sum(case((c.n_scans > 0, 1), else_=0)),
        func.sum(c.n_scans),
    ).group_by(*dims)
    return [tuple(r) for r in session.execute(q)]


def _partition_where(p: Partition) -> ColumnElement[bool]:
    fonds_id, category, year = p
    return and_(
        Record.fonds_id == fonds_id if fonds_id else Record.fonds_id.is_(None),
        Record.category == category if category else Record.category.is_(None),
        Record.year == year if year else Record.year.is_(None),
    )


def _insert(session: Session) -> Any:
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert


def _add_rows(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """Upsert-add aggregate rows into the summary."""
    if not rows:
        return
    ins = _insert(session)(DashboardHolding)
    values = [
        dict(
            zip(DIMENSIONS + MEASURES, (*r[:_NDIM], *(int(x or 0) for x in r[_NDIM:])), strict=True)
        )
        for r in rows
    ]
    stmt = ins.values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(DIMENSIONS),
        set_={m: getattr(DashboardHolding, m) + stmt.excluded[m] for m in MEASURES},
    )
    session.execute(stmt)


def _stamp(session: Session, parts: Iterable[Partition], seq: int) -> None:
    rows = [{"fonds_id": f, "category": c, "year": y, "as_of_seq": seq} for f, c, y in parts]
    if not rows:
        return
    ins = _insert(session)(DashboardPartition).values(rows)
    session.execute(
        ins.on_conflict_do_update(
            index_elements=["fonds_id", "category", "year"], set_={"as_of_seq": seq}
        )
    )


def _recompute(session: Session, parts: set[Partition], seq: int) -> None:
    for p in sorted(parts):
        f, c, y = p
        session.execute(
            delete(DashboardHolding).where(
                DashboardHolding.fonds_id == f,
                DashboardHolding.category == c,
                DashboardHolding.year == y,
            )
        )
        _add_rows(session, _aggregate(session, _partition_where(p)))
    _stamp(session, parts, seq)


# -- reading events ----------------------------------------------------------------------------


def head(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(Event.seq), 0))) or 0)


def cursor(session: Session) -> int:
    return int(
        session.scalar(select(DashboardCursor.seq).where(DashboardCursor.name == CURSOR)) or 0
    )


@dataclass
class _Batch:
    dirty_ids: set[int] = field(default_factory=set)
    dirty_ranges: list[tuple[int, int]] = field(default_factory=list)
    old_years: list[tuple[int, int]] = field(default_factory=list)  # (record id, old 年度)
    creations: list[tuple[int, int, int]] = field(default_factory=list)  # (seq, first, last)
    openings: list[tuple[int, int, int]] = field(default_factory=list)  # (seq, record, year)
    linked_batches: list[str] = field(default_factory=list)  # scan batches (uid) linked anew


def _read(ev: Any, batch: _Batch) -> None:
    seq, ts, action, object_type, object_id, raw = ev
    if action in _NEUTRAL:
        return
    if action == _LINKED:  # 挂接: the records the batch's pages now belong to
        batch.linked_batches.append(str(object_id))
        return
    candidate = object_type == "record" or any(
        k in raw for k in ('"first_id"', '"record_ids"', '"open_status"')
    )
    if not candidate:
        return
    detail: dict[str, Any] = json.loads(raw) if raw else {}
    year = int(ts[:4])
    if action in _CREATIONS and "first_id" in detail:
        batch.creations.append((seq, int(detail["first_id"]), int(detail["last_id"])))
        return
    ids: list[int] = []
    if object_type == "record":
        ids.append(int(object_id))
    ids += [int(i) for i in detail.get("record_ids") or ()]
    batch.dirty_ids.update(ids)
    if "first_id" in detail and "last_id" in detail:
        batch.dirty_ranges.append((int(detail["first_id"]), int(detail["last_id"])))
    changes = detail.get("changes") or {}
    if "year" in changes and object_type == "record":
        old = changes["year"][0]
        if old not in (None, ""):
            batch.old_years.append((int(object_id), int(old)))
    if isinstance(detail.get("open_status_changes"), list):  # 开放审核 apply: [[id, old, new], …]
        batch.openings += [
            (seq, int(rid), year) for rid, _old, new in detail["open_status_changes"] if new == OPEN
        ]
        return
    new_status = None
    if "open_status" in changes:
        new_status = changes["open_status"][1]
    elif "open_status" in detail and detail.get("record_ids"):
        new_status = detail["open_status"]
    if new_status == OPEN:
        batch.openings += [(seq, i, year) for i in ids]


def _partitions_of(session: Session, where: ColumnElement[bool]) -> set[Partition]:
    q = select(
        func.coalesce(Record.fonds_id, 0),
        func.coalesce(Record.category, ""),
        func.coalesce(Record.year, 0),
    ).where(where)
    return {(int(f), str(c), int(y)) for f, c, y in session.execute(q.distinct())}


def _chunks(ids: Sequence[int], n: int = 500) -> Iterator[Sequence[int]]:
    for i in range(0, len(ids), n):
        yield ids[i : i + n]


def _dirty(session: Session, batch: _Batch) -> set[Partition]:
    parts: set[Partition] = set()
    for chunk in _chunks(sorted(batch.dirty_ids)):
        parts |= _partitions_of(session, Record.id.in_(chunk))
    for lo, hi in batch.dirty_ranges:
        parts |= _partitions_of(session, Record.id.between(lo, hi))
    if batch.linked_batches:
        pages = (
            select(ScanPage.record_id)
            .join(ScanBatch, ScanBatch.id == ScanPage.batch_id)
            .where(ScanBatch.uid.in_(batch.linked_batches), ScanPage.record_id.is_not(None))
        )
        parts |= _partitions_of(session, Record.id.in_(pages))
    if batch.old_years:
        rows = session.execute(
            select(Record.id, Record.fonds_id, Record.category).where(
                Record.id.in_([i for i, _ in batch.old_years])
            )
        )
        where = {int(i): (int(f or 0), str(c or "")) for i, f, c in rows}
        for rid, year in batch.old_years:
            if rid in where:
                parts.add((*where[rid], year))
    return parts


def _apply_creations(session: Session, batch: _Batch) -> int:
    """Add created ranges to partitions stamped before the creation; returns records added."""
    stamps = {
        (int(f), str(c), int(y)): int(s)
        for f, c, y, s in session.execute(
            select(
                DashboardPartition.fonds_id,
                DashboardPartition.category,
                DashboardPartition.year,
                DashboardPartition.as_of_seq,
            )
        )
    }
    added = 0
    for seq, lo, hi in batch.creations:
        rows = [
            r
            for r in _aggregate(session, Record.id.between(lo, hi))
            if stamps.get((int(r[0]), str(r[1]), int(r[2])), -1) < seq
        ]
        _add_rows(session, rows)
        added += sum(int(r[_NDIM]) for r in rows)
        new = {(int(r[0]), str(r[1]), int(r[2])) for r in rows} - stamps.keys()
        # A partition first seen through a creation starts at the creation's event.
        _stamp(session, new, seq - 1)
        stamps.update(dict.fromkeys(new, seq - 1))
    return added


def _begin(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def catch_up(
    db: Database, *, max_events: int = EVENT_BATCH, budget_seconds: float | None = None
) -> CatchUp:
    """Apply the pending events (at most ``max_events`` per transaction, looping until caught up
    or past ``budget_seconds``); the first call on an instance fills the summary with
    :func:`rebuild`. Safe to call from several processes: one applies, the others
    find nothing left (SQLite queues writers; on PostgreSQL a concurrent update of the cursor is
    retried on the next call)."""
    started = time.perf_counter()
    with db.read() as s:
        applied = s.scalar(select(DashboardCursor.seq).where(DashboardCursor.name == CURSOR))
        top = head(s)
    if applied is None:  # never filled: one pass over the catalogue beats replaying the whole log
        return rebuild(db)
    total = CatchUp(seq=int(applied), head=top)
    if top <= applied:  # nothing pending: no write transaction (SQLite's writer lock stays free)
        total.seconds = time.perf_counter() - started
        return total
    while True:
        try:
            step = _catch_up_once(db, max_events)
        except OperationalError:
            if db.is_sqlite:
                raise
            break  # PostgreSQL serialisation failure: another process applied these events
        total.events += step.events
        total.partitions += step.partitions
        total.delta_records += step.delta_records
        total.openings += step.openings
        total.seq, total.head = step.seq, step.head
        if step.events == 0 or step.lag == 0:
            break
        if budget_seconds is not None and time.perf_counter() - started > budget_seconds:
            break
    total.seconds = time.perf_counter() - started
    return total


def _catch_up_once(db: Database, max_events: int) -> CatchUp:
    with db.write() as s:
        _begin(s)
        start = cursor(s)
        top = head(s)
        out = CatchUp(seq=start, head=top)
        if top <= start:
            return out
        rows = list(
            s.execute(
                select(
                    Event.seq,
                    Event.ts,
                    Event.action,
                    Event.object_type,
                    Event.object_id,
                    Event.detail,
                )
                .where(Event.seq > start)
                .order_by(Event.seq)
                .limit(max_events)
            )
        )
        batch = _Batch()
        for ev in rows:
            _read(ev, batch)
        parts = _dirty(s, batch)
        _recompute(s, parts, top)
        out.delta_records = _apply_creations(s, batch)
        if batch.openings:
            _add_openings(s, batch.openings)
        last = int(rows[-1][0]) if rows else top
        _move_cursor(s, last)
        out.events, out.partitions, out.openings, out.seq = (
            len(rows),
            len(parts),
            len(batch.openings),
            last,
        )
        return out


def _add_openings(session: Session, openings: list[tuple[int, int, int]]) -> None:
    ins = _insert(session)(DashboardTransition).values(
        [{"kind": OPENED, "seq": q, "record_id": r, "year": y} for q, r, y in openings]
    )
    session.execute(ins.on_conflict_do_nothing())


def _move_cursor(session: Session, seq: int) -> None:
    done = session.execute(
        update(DashboardCursor)
        .where(DashboardCursor.name == CURSOR)
        .values(seq=seq, updated_at=utcnow())
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        session.add(DashboardCursor(name=CURSOR, seq=seq, updated_at=utcnow()))


def rebuild(db: Database) -> CatchUp:
    """Recompute the whole summary from the records and re-read the dated acts from the events."""
    started = time.perf_counter()
    with db.write() as s:
        _begin(s)
        top = head(s)
        s.execute(delete(DashboardHolding))
        s.execute(delete(DashboardPartition))
        s.execute(delete(DashboardTransition))
        rows = _aggregate(s, true())
        _add_rows(s, rows)
        parts = {(int(r[0]), str(r[1]), int(r[2])) for r in rows}
        _stamp(s, parts, top)
        batch = _Batch()
        for ev in s.execute(
            select(
                Event.seq, Event.ts, Event.action, Event.object_type, Event.object_id, Event.detail
            )
            .where(Event.seq <= top, Event.detail.contains("open_status"))
            .order_by(Event.seq)
        ):
            _read(ev, batch)
        if batch.openings:
            _add_openings(s, batch.openings)
        _move_cursor(s, top)
    return CatchUp(
        partitions=len(parts),
        openings=len(batch.openings),
        seq=top,
        head=top,
        seconds=time.perf_counter() - started,
    )


def check(db: Database) -> list[Mismatch]:
    """Every summary row compared with the records it counts; empty when the summary is exact.

    Meaningful when caught up (call :func:`catch_up` first): partitions are compared one by one
    against a fresh aggregate of their records.
    """
    out: list[Mismatch] = []
    with db.read() as s:
        summary: dict[tuple[Any, ...], tuple[int, ...]] = {}
        for h in s.scalars(select(DashboardHolding)):
            dims = tuple(getattr(h, d) for d in DIMENSIONS)
            summary[dims] = tuple(int(getattr(h, m)) for m in MEASURES)
        actual: dict[tuple[Any, ...], tuple[int, ...]] = {}
        for r in _aggregate(s, true()):
            actual[tuple(r[:_NDIM])] = tuple(int(x or 0) for x in r[_NDIM:])
    zero = (0,) * len(MEASURES)
    for dims in sorted(summary.keys() | actual.keys(), key=repr):
        a, b = summary.get(dims, zero), actual.get(dims, zero)
        if a != b:
            out.append(Mismatch((dims[0], dims[1], dims[2]), dims, a, b))
    return out
