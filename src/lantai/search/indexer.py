"""The one indexing worker: follows the event log, and rebuilds generations beside the live one.

* **Change feed.** Every catalogue change appends an event (``events`` table). The indexer keeps the
  sequence number of the last event it applied in ``state.json`` next to the index (written after
  each commit) and, on start and then every ``interval`` seconds (or at once when notified),
  applies the events after it: for each record an event names, delete its document and, if the
  record is active, add it again from the database row (never from the event detail). Bulk
  writes log one event per batch: ``catalogue:records:generated`` (the generator) and
  ``catalogue:records:created`` (``Catalogue.create_records``, used by ingest) name an id range,
  ``catalogue:texts:added`` a list of record ids; those records are re-read the same way, as are
  the records named by ``catalogue:records:published`` / ``unpublished`` (上网审查), whose
  documents carry the ``published`` flag and the masked public text.
  Applying is idempotent, so a crash at any point only repeats work.
* **Rebuild.** A new generation is filled from the database (analysis in worker processes when the
  catalogue is large), caught up from the event log to the sequence number read before the scan
  started, then — under the live lock — caught up to the head and swapped in. Searches keep using
  the old generation until the swap, so they never see a partial or empty index.
* **One writer.** Only the process holding ``writer.lock`` indexes; any other process (a second web
  worker, a CLI) finds the lock held and leaves the index alone.
"""

from __future__ import annotations

import bisect
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import tantivy
from sqlalchemy import ColumnElement, Select, and_, func, select, type_coerce
from sqlalchemy.orm import Session, aliased
from sqlalchemy.types import Text

from lantai import faults
from lantai.audit import EventType
from lantai.catalogue import Lifecycle
from lantai.errors import Conflict
from lantai.instance import Instance
from lantai.search.index import Generation, IndexState, SearchHome, SearchReader, WriterLock
from lantai.search.schema import (
    SCHEMA_VERSION,
    JsonMemo,
    PublicValues,
    RecordRow,
    RowMemo,
    build_schema,
    doc_values,
    to_json,
)
from lantai.search.workers import analyse_in_workers
from lantai.store import Database, Event, PublishedRecord, PublishedText, Record, RecordText

__all__ = ["IndexStatus", "Indexer", "RebuildReport", "read_and_analyse", "record_rows"]

log = logging.getLogger("lantai.search")

Progress = Callable[[int], None]

_SKIP_ACTIONS = frozenset({EventType.CATALOGUE_EXPORT_CREATED.value})
# Batch events: an id range (records generated or created in bulk), or a list of record ids.
_RANGE_ACTIONS = frozenset(
    {EventType.CATALOGUE_RECORDS_GENERATED.value, EventType.CATALOGUE_RECORDS_CREATED.value}
)
_ID_LIST_ACTIONS = frozenset(
    {
        EventType.CATALOGUE_TEXTS_ADDED.value,
        EventType.CATALOGUE_RECORDS_REVIEWED.value,
        EventType.CATALOGUE_RECORDS_PUBLISHED.value,
        EventType.CATALOGUE_RECORDS_UNPUBLISHED.value,
    }
)
EVENT_BATCH = 1000
ROW_BATCH = 5000
LIVE_HEAP = 64_000_000
BUILD_HEAP = 400_000_000


_FONDS = aliased(Record, name="fonds_record")
# What the indexer reads of a record (built once, so SQLAlchemy compiles it once).
_ROWS: Select[*tuple[Any, ...]] = select(
    Record.id,
    Record.level,
    _FONDS.archival_code,
    Record.category,
    Record.archival_code,
    Record.title,
    Record.responsible,
    Record.date,
    Record.year,
    Record.retention,
    Record.security_level,
    Record.security_rank,
    Record.open_status,
    Record.doc_number,
    type_coerce(Record.fields, Text),  # raw JSON on SQLite: parsed once per distinct value
    Record.lifecycle,
    PublishedRecord.state,
).outerjoin(_FONDS, _FONDS.id == Record.fonds_id)
_ROWS = _ROWS.outerjoin(PublishedRecord, PublishedRecord.record_id == Record.id)


def record_rows(
    session: Session, where: ColumnElement[bool], limit: int | None = None
) -> list[RecordRow]:
    """Rows to index, in id order (Core execution: no ORM row processing on this hot path)."""
    q = _ROWS.where(where).order_by(Record.id)
    if limit is not None:
        q = q.limit(limit)
    return [RecordRow(*r) for r in session.connection().execute(q)]


def _texts(session: Session, where: ColumnElement[bool]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    q = select(RecordText.record_id, RecordText.text).where(where)
    rows = session.connection().execute(q.order_by(RecordText.record_id, RecordText.id))
    for rid, text in rows:
        out.setdefault(int(rid), []).append(text)
    return out


def _public(session: Session, rows: Sequence[RecordRow]) -> dict[int, PublicValues]:
    """The masked public values of the published records among ``rows`` (few or none)."""
    ids = [r.id for r in rows if r.publication == "published"]
    if not ids:
        return {}
    out: dict[int, PublicValues] = {}
    texts: dict[int, list[str]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        q = select(PublishedText.record_id, PublishedText.text).where(
            PublishedText.record_id.in_(chunk)
        )
        for rid, text in session.connection().execute(q.order_by(PublishedText.id)):
            texts.setdefault(int(rid), []).append(text)
        q2 = select(
            PublishedRecord.record_id,
            PublishedRecord.title,
            PublishedRecord.responsible,
            type_coerce(PublishedRecord.fields, Text),
        ).where(PublishedRecord.record_id.in_(chunk))
        for rid, title, responsible, fields in session.connection().execute(q2):
            out[int(rid)] = PublicValues(title, responsible, fields, tuple(texts.get(int(rid), ())))
    return out


def read_and_analyse(db: Database, lo: int, hi: int) -> list[str]:
    """The JSON documents of the active records with ids in [lo, hi] (a worker's unit of work)."""
    with db.read() as s:
        rows = record_rows(s, and_(Record.id.between(lo, hi), Record.lifecycle == Lifecycle.ACTIVE))
        texts = _texts(s, RecordText.record_id.between(lo, hi)) if rows else {}
        public = _public(s, rows)
    quote = JsonMemo()
    return [to_json(v, quote) for v in doc_values(rows, texts, public=public)]


@dataclass(frozen=True)
class RebuildReport:
    generation: str
    records: int
    seconds: float
    caught_up_events: int
    size_bytes: int

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class IndexStatus:
    generation: str | None
    seq: int
    head: int
    records: int
    size_bytes: int
    complete: bool
    schema_ok: bool
    writer_pid: str
    rebuilding: bool

    @property
    def lag(self) -> int:
        return max(0, self.head - self.seq)


class _Live:
    """The generation being updated and its writer."""

    def __init__(self, gen: Generation, writer: tantivy.IndexWriter, state: IndexState) -> None:
        self.gen = gen
        self.writer = writer
        self.state = state


class Indexer:
    """The single writer of one instance's search index (see the module docstring)."""

    def __init__(
        self,
        inst: Instance,
        home: SearchHome,
        *,
        reader: SearchReader | None = None,
        workers: int = 1,
        pool_threshold: int = 200_000,
        build_heap: int = BUILD_HEAP,
    ) -> None:
        self.inst = inst
        self.home = home
        self.reader = reader
        self.workers = workers
        self.pool_threshold = pool_threshold
        self.build_heap = build_heap
        self.lock = WriterLock(home)
        self._schema = build_schema()
        self._live_lock = threading.RLock()
        self._rebuild_lock = threading.Lock()
        self._live: _Live | None = None
        self._wake = threading.Event()
        self._rebuilding = False
        self._rebuild_thread: threading.Thread | None = None

    # -- ownership ---------------------------------------------------------------------------------

    def acquire(self) -> bool:
        """Take the writer lock; False when another process (or indexer) holds it."""
        return self.lock.acquire()

    def release(self) -> None:
        with self._live_lock:
            self._live = None
        self.lock.release()

    def _require_lock(self) -> None:
        if not self.lock.held:
            raise Conflict(
                f"检索索引正由另一进程维护（进程号 {self.lock.holder() or '未知'}），本进程不写索引"
            )

    # -- status ------------------------------------------------------------------------------------

    def head(self) -> int:
        with self.inst.db.read() as s:
            return int(s.scalar(select(func.coalesce(func.max(Event.seq), 0))) or 0)

    def status(self) -> IndexStatus:
        gen = self.home.current()
        state = gen.read_state() if gen is not None else None
        records = 0
        if gen is not None and state is not None and state.schema_version == SCHEMA_VERSION:
            try:
                records = gen.open_index().searcher().num_docs
            except ValueError:
                records = 0
        return IndexStatus(
            generation=gen.name if gen is not None else None,
            seq=state.seq if state is not None else 0,
            head=self.head(),
            records=records,
            size_bytes=gen.size_bytes() if gen is not None else 0,
            complete=bool(state and state.complete),
            schema_ok=bool(state and state.schema_version == SCHEMA_VERSION),
            writer_pid=self.lock.holder(),
            rebuilding=self._rebuilding,
        )

    # -- startup -----------------------------------------------------------------------------------

    def ensure(self, progress: Progress | None = None) -> None:
        """Open the live generation and catch it up, or rebuild when there is none usable."""
        self._require_lock()
        gen = self.home.current()
        state = gen.read_state() if gen is not None else None
        usable = (
            gen is not None
            and state is not None
            and state.complete
            and state.schema_version == SCHEMA_VERSION
            and state.seq <= self.head()
        )
        if not usable:
            if gen is not None:
                log.warning("search index %s unusable (%s): rebuilding", gen.name, state)
            self._remove_unfinished()
            self.rebuild(progress=progress)
            return
        assert gen is not None and state is not None
        self._remove_unfinished()
        with self._live_lock:
            self._live = _Live(gen, gen.open_index().writer(LIVE_HEAP, 1), state)
        self.catch_up()

    def _remove_unfinished(self) -> None:
        current = self.home.current()
        for g in self.home.generations():
            if current is None or g.number > current.number:
                shutil.rmtree(g.path, ignore_errors=True)
        self.home.remove_stale()

    # -- applying events ---------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply every event after the live generation's high-water mark; returns how many."""
        self._require_lock()
        with self._live_lock:
            live = self._live
            if live is None:
                return 0
            applied = self._catch_up(live)
        if applied and self.reader is not None:
            self.reader.refresh()
        return applied

    def _catch_up(self, live: _Live, until: int | None = None) -> int:
        applied = 0
        while True:
            with self.inst.db.read() as s:
                q = (
                    select(
                        Event.seq, Event.action, Event.object_type, Event.object_id, Event.detail
                    )
                    .where(Event.seq > live.state.seq)
                    .order_by(Event.seq)
                    .limit(EVENT_BATCH)
                )
                if until is not None:
                    q = q.where(Event.seq <= until)
                events = s.execute(q).all()
                if not events:
                    return applied
                ids, ranges = _targets(events)
                self._apply(s, live.writer, ids, ranges)
            live.writer.commit()
            faults.point("search.index.committed")
            live.state = replace(live.state, seq=int(events[-1][0]), updated_at=time.time())
            live.gen.write_state(live.state)
            applied += len(events)

    def _apply(
        self,
        session: Session,
        writer: tantivy.IndexWriter,
        ids: set[int],
        ranges: list[tuple[int, int]],
    ) -> None:
        cache = RowMemo()
        for rid in sorted(ids):
            writer.delete_documents_by_term("id", rid)
        for lo, hi in ranges:
            writer.delete_documents_by_query(
                tantivy.Query.range_query(self._schema, "id", tantivy.FieldType.Integer, lo, hi)
            )
        wanted = sorted(ids)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            self._add(session, writer, Record.id.in_(chunk), RecordText.record_id.in_(chunk), cache)
        for lo, hi in ranges:
            after = lo - 1
            while after < hi:
                rows = record_rows(session, and_(Record.id > after, Record.id <= hi), ROW_BATCH)
                if not rows:
                    break
                first, last = rows[0].id, rows[-1].id
                texts = _texts(session, RecordText.record_id.between(first, last))
                _add_rows(writer, rows, texts, cache, _public(session, rows))
                after = last

    def _add(
        self,
        session: Session,
        writer: tantivy.IndexWriter,
        where: ColumnElement[bool],
        text_where: ColumnElement[bool],
        cache: RowMemo,
    ) -> None:
        rows = record_rows(session, where)
        texts = _texts(session, text_where) if rows else {}
        _add_rows(writer, rows, texts, cache, _public(session, rows))

    # -- rebuild -----------------------------------------------------------------------------------

    def rebuild(self, progress: Progress | None = None) -> RebuildReport:
        """Build a new generation from the database, catch it up, swap it in (see module doc)."""
        self._require_lock()
        if not self._rebuild_lock.acquire(blocking=False):
            raise Conflict("检索索引正在重建，请稍候")
        self._rebuilding = True
        try:
            return self._rebuild(progress)
        finally:
            self._rebuilding = False
            self._rebuild_lock.release()

    def _rebuild(self, progress: Progress | None) -> RebuildReport:
        started = time.perf_counter()
        gen = self.home.new_generation()
        start_seq = self.head()
        index = gen.create_index()
        writer = index.writer(self.build_heap, 0)
        with self.inst.db.read() as s:
            total = int(
                s.scalar(
                    select(func.count())
                    .select_from(Record)
                    .where(Record.lifecycle == Lifecycle.ACTIVE)
                )
                or 0
            )
        count = self._fill(writer, total, progress)
        writer.commit()
        writer.wait_merging_threads()
        live = _Live(gen, gen.open_index().writer(LIVE_HEAP, 1), IndexState(seq=start_seq))
        gen.write_state(live.state)
        caught = self._catch_up(live)  # most of the way, without blocking the live generation
        with self._live_lock:
            caught += self._catch_up(live)
            live.state = replace(live.state, complete=True, records=count, updated_at=time.time())
            gen.write_state(live.state)
            self.home.swap(gen)
            self._live = live
            self.home.remove_stale()
        if self.reader is not None:
            self.reader.refresh()
        seconds = time.perf_counter() - started
        log.info("search index %s built: %d records in %.1f s", gen.name, count, seconds)
        return RebuildReport(gen.name, count, seconds, caught, gen.size_bytes())

    def _fill(self, writer: tantivy.IndexWriter, total: int, progress: Progress | None) -> int:
        active = Record.lifecycle == Lifecycle.ACTIVE
        if total < self.pool_threshold or self.workers < 1:
            cache = RowMemo()
            count = 0
            for rows, texts, public in self._scan(active):
                _add_rows(writer, rows, texts, cache, public)
                count += len(rows)
                if progress is not None:
                    progress(len(rows))
            return count
        return self._fill_parallel(writer, progress)

    def _fill_parallel(self, writer: tantivy.IndexWriter, progress: Progress | None) -> int:
        with self.inst.db.read() as s:
            lo, hi = s.execute(select(func.min(Record.id), func.max(Record.id))).one()
        if not lo or not hi:  # no records (ids start at 1)
            return 0
        ranges = ((a, min(a + ROW_BATCH - 1, hi)) for a in range(lo, hi + 1, ROW_BATCH))
        count = 0
        for docs in analyse_in_workers(self.inst.db.url, ranges, self.workers):
            for doc in docs:
                writer.add_json(doc)
            count += len(docs)
            if progress is not None:
                progress(len(docs))
        return count

    def _scan(
        self, where: ColumnElement[bool]
    ) -> Iterator[tuple[list[RecordRow], dict[int, list[str]], dict[int, PublicValues]]]:
        after = 0
        while True:
            with self.inst.db.read() as s:
                rows = record_rows(s, and_(where, Record.id > after), ROW_BATCH)
                if not rows:
                    return
                texts = _texts(s, RecordText.record_id.between(rows[0].id, rows[-1].id))
                public = _public(s, rows)
            yield rows, texts, public
            after = rows[-1].id

    # -- the background loop -------------------------------------------------------------------------

    def notify(self) -> None:
        """Apply new events now rather than at the next interval."""
        self._wake.set()

    def request_rebuild(self) -> None:
        """Rebuild in a background thread (live updates continue meanwhile)."""
        with self._live_lock:
            if self._rebuild_thread is not None and self._rebuild_thread.is_alive():
                return
            self._rebuild_thread = threading.Thread(
                target=self._rebuild_quietly, name="lantai-search-rebuild", daemon=True
            )
            self._rebuild_thread.start()

    def _rebuild_quietly(self) -> None:
        try:
            self.rebuild()
        except Exception:  # pragma: no cover - logged; the live generation keeps serving
            log.exception("search index rebuild failed")

    def run(self, stop: threading.Event, *, interval: float = 0.5, standby: float = 5.0) -> None:
        """Keep the index current until ``stop`` is set (the web server's indexing thread).

        Without the writer lock the loop stands by, trying to take it every ``standby`` seconds,
        so a second web worker takes over when the indexing one exits.
        """
        while not stop.is_set():
            if not self.lock.held:
                if not self.acquire():
                    stop.wait(standby)
                    continue
                log.info("search indexing taken over by this process")
            try:
                if self.home.take_rebuild_request():
                    self.request_rebuild()
                if self._live is None and not self._rebuilding:
                    self.ensure()
                else:
                    self.catch_up()
            except Exception:
                log.exception("search indexing failed; retrying")
                stop.wait(min(30.0, interval * 10))
            self._wake.wait(interval)
            self._wake.clear()
        thread = self._rebuild_thread
        if thread is not None:
            thread.join()


def _add_rows(
    writer: tantivy.IndexWriter,
    rows: Iterable[RecordRow],
    texts: dict[int, list[str]],
    cache: RowMemo,
    public: dict[int, PublicValues] | None = None,
) -> None:
    active = [r for r in rows if r.lifecycle == Lifecycle.ACTIVE]
    quote = JsonMemo()
    for v in doc_values(active, texts, memo=cache, public=public):
        writer.add_json(to_json(v, quote))


def _targets(events: Sequence[Any]) -> tuple[set[int], list[tuple[int, int]]]:
    """The record ids and id ranges a batch of events touches."""
    ids: set[int] = set()
    ranges: list[tuple[int, int]] = []
    for _seq, action, object_type, object_id, detail in events:
        if not action.startswith("catalogue:") or action in _SKIP_ACTIONS:
            continue
        if action in _RANGE_ACTIONS:
            try:
                d = json.loads(detail)
                ranges.append((int(d["first_id"]), int(d["last_id"])))
            except (ValueError, KeyError, TypeError):
                log.warning("event %s: no id range in %r", _seq, detail[:200])
        elif action in _ID_LIST_ACTIONS:
            try:
                ids.update(int(i) for i in json.loads(detail)["record_ids"])
            except (ValueError, KeyError, TypeError):
                log.warning("event %s: no record ids in %r", _seq, detail[:200])
        elif object_type == "record" and str(object_id).isdigit():
            ids.add(int(object_id))
    # Each record is added once per batch: overlapping ranges are merged, and ids inside a range
    # are left to it (an ingest names its records twice: the created range and the texts' list).
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    starts = [lo for lo, _ in merged]

    def in_range(rid: int) -> bool:
        i = bisect.bisect_right(starts, rid) - 1
        return i >= 0 and rid <= merged[i][1]

    return {rid for rid in ids if not in_range(rid)}, merged
