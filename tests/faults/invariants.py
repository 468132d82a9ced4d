"""What must hold after any crash (``settled=False``) and once the work has finished (``True``).

``check_invariants(home)`` opens the instance at ``home`` (``database_url`` for PostgreSQL) and
returns the list of violations, each a sentence naming the object; an empty list means every
invariant holds. It never repairs anything, except that a settled check runs what an operator
runs after a crash — ``reconcile`` (remove leftovers of transfers that never committed) and a
search-index catch-up — and then checks the result.

Always (right after ``kill -9``, before any restart):

* the audit chain verifies;
* every committed package is complete: each object its index lists exists with its size and
  SHA-256 (no partial package is ever visible);
* catalogue ↔ storage: every file of an active record is in the primary store with the
  catalogue's SHA-256 and SM3 — except the files of an item whose 销毁 was authorised and is
  being carried out (its storage side is removed before the catalogue commits);
* all or nothing: a transfer that has not committed its catalogue step has no record, no file
  link and no record count; a committed one has exactly ``actual_items`` linked records;
* no duplicate: one transfer per idempotency key, 档号 unique, each expected 档号 at most once;
* destroyed objects (``destroyed_objects``) are absent at every location that holds the package;
* every ledger copy marked present is in its location with the recorded package digest.

Settled (after restart and the work ran until idle), additionally:

* every transfer ended (done, rejected or failed — a failed one with its error), every job
  ended (succeeded, or failed/cancelled with its error) or is a scheduled job waiting for its
  time; no job is running;
* each expected 档号 is in the catalogue exactly once when its transfer is done;
* after reconcile: no package of a failed transfer is left, no partial write of a known
  package, and every other committed package is named by a transfer, a scan batch, a
  searchable PDF or a disposal register (anything else is a leak);
* every AIP of a done transfer satisfies the storage policy, unless its replication job failed
  visibly;
* the search index, caught up, holds exactly the active records (each once);
* destroyed records have no file left at any location.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import func, select

from lantai.instance import Instance
from lantai.settings import Settings
from lantai.storage.base import ObjectNotFound
from lantai.storage.ledger import CopyState
from lantai.storage.local import LocalObjectStore
from lantai.storage.system import StorageSystem
from lantai.store import (
    DestroyedObject,
    DisposalBatch,
    DisposalDecision,
    DisposalItem,
    IngestTransfer,
    Job,
    Record,
    RecordClosure,
    RecordFile,
    StorageCopy,
    TransferState,
)

__all__ = ["check_invariants", "open_lab_instance"]

COMMITTED = {TransferState.CATALOGUED.value, TransferState.DONE.value}
REPLICATE_KIND = "storage.replicate"


def open_lab_instance(home: Path, database_url: str = "") -> Instance:
    settings = Settings(
        home=home,
        database_url=database_url,
        archive_code="136101",
        password_time_cost=1,
        password_memory_kib=8192,
    )
    return Instance.open(settings)


def check_invariants(
    home: Path,
    *,
    database_url: str = "",
    settled: bool = True,
    expected_codes: Iterable[str] = (),
) -> list[str]:
    """Every violated invariant (see the module docstring); empty when all hold."""
    inst = open_lab_instance(home, database_url)
    try:
        return _Checker(inst, settled, set(expected_codes)).run()
    finally:
        inst.close()


class _Checker:
    def __init__(self, inst: Instance, settled: bool, expected: set[str]) -> None:
        self.inst = inst
        self.settled = settled
        self.expected = expected
        self.system = StorageSystem(inst)
        self.primary = self.system.store(self.system.policy.primary.name)
        self.out: list[str] = []

    def bad(self, message: str) -> None:
        self.out.append(message)

    def run(self) -> list[str]:
        if self.settled:
            self._reconcile()
        self._audit()
        self._packages_complete()
        self._catalogue_storage()
        self._all_or_nothing()
        self._duplicates()
        self._destroyed()
        self._ledger()
        if self.settled:
            self._ended()
            self._expected_present()
            self._orphans()
            self._policy()
            self._index()
        return self.out

    # -- always ------------------------------------------------------------------------------------

    def _audit(self) -> None:
        with self.inst.db.read() as s:
            report = self.inst.audit.verify(s)
        if not report.ok:
            self.bad(f"audit chain broken: {[p.message for p in report.problems][:5]}")

    def _packages_complete(self) -> None:
        for pid in self.primary.packages():
            for obj in self.primary.list(f"{pid}/"):
                try:
                    with self.primary.open(obj.key) as f:
                        h = hashlib.sha256()
                        size = 0
                        while chunk := f.read(1 << 20):
                            h.update(chunk)
                            size += len(chunk)
                except (ObjectNotFound, OSError) as exc:
                    self.bad(f"package {pid}: object {obj.key} listed but unreadable ({exc})")
                    continue
                if size != obj.size or h.hexdigest() != obj.sha256:
                    self.bad(f"package {pid}: object {obj.key} differs from its index")

    def _destroying(self) -> set[tuple[str, str]]:
        """(aip, path) of items whose 销毁 is authorised in an open batch (being carried out)."""
        with self.inst.db.read() as s:
            rows = s.execute(
                select(DisposalItem, DisposalBatch)
                .join(DisposalBatch, DisposalBatch.id == DisposalItem.batch_id)
                .where(DisposalBatch.state == "open")
            ).all()
            out: set[tuple[str, str]] = set()
            for item, batch in rows:
                decision = s.scalar(
                    select(DisposalDecision.decision).where(
                        DisposalDecision.item_id == item.id,
                        DisposalDecision.round == len(batch.rounds),
                    )
                )
                if decision != "destroy":
                    continue
                ids = list(
                    s.scalars(
                        select(RecordClosure.descendant_id).where(
                            RecordClosure.ancestor_id == item.record_id
                        )
                    )
                ) or [item.record_id]
                out |= {
                    (a, p)
                    for a, p in s.execute(
                        select(RecordFile.aip_id, RecordFile.path).where(
                            RecordFile.record_id.in_(ids)
                        )
                    )
                }
        return out

    def _catalogue_storage(self) -> None:
        destroying = self._destroying()
        with self.inst.db.read() as s:
            rows = s.execute(
                select(RecordFile.aip_id, RecordFile.path, RecordFile.sha256, RecordFile.sm3)
                .join(Record, Record.id == RecordFile.record_id)
                .where(Record.lifecycle == "active")
            ).all()
        for aip, path, sha, sm3 in rows:
            try:
                info = self.primary.stat(f"{aip}/{path}")
            except ObjectNotFound:
                if (aip, path) in destroying:
                    continue
                self.bad(f"record file {aip}/{path} of an active record is not in the store")
                continue
            if info.sha256 != sha or (sm3 and info.sm3 != sm3):
                self.bad(f"record file {aip}/{path}: digests differ between catalogue and store")

    def _all_or_nothing(self) -> None:
        with self.inst.db.read() as s:
            transfers = s.scalars(select(IngestTransfer)).all()
            for t in transfers:
                linked = (
                    int(
                        s.scalar(
                            select(func.count(func.distinct(RecordFile.record_id))).where(
                                RecordFile.aip_id == t.aip_id
                            )
                        )
                        or 0
                    )
                    if t.aip_id
                    else 0
                )
                if t.state in COMMITTED:
                    if linked != (t.actual_items or 0) or t.record_count != (t.actual_items or 0):
                        self.bad(
                            f"transfer {t.uid}: {t.actual_items} items received but "
                            f"{linked} linked / record_count {t.record_count}"
                        )
                elif linked or t.record_count:
                    self.bad(
                        f"transfer {t.uid} ({t.state}) has {linked} records in the catalogue "
                        "without a committed catalogue step"
                    )

    def _duplicates(self) -> None:
        with self.inst.db.read() as s:
            keys = Counter(
                k
                for k in s.scalars(
                    select(IngestTransfer.idempotency_key).where(
                        IngestTransfer.idempotency_key.is_not(None)
                    )
                )
            )
            codes = Counter(
                c for c in s.scalars(select(Record.archival_code).where(Record.level == "item"))
            )
        for k, n in keys.items():
            if n > 1:
                self.bad(f"idempotency key {k}: {n} transfers")
        for c, n in codes.items():
            if c is not None and n > 1:
                self.bad(f"档号 {c}: {n} records")

    def _destroyed(self) -> None:
        with self.inst.db.read() as s:
            gone = s.execute(select(DestroyedObject.package_id, DestroyedObject.path)).all()
        for loc in self.system.policy.locations:
            store = self.system.store(loc.name)
            for pid, path in gone:
                try:
                    if store.package(pid) is None:
                        continue
                except OSError:
                    continue
                try:
                    store.stat(f"{pid}/{path}")
                    listed = True
                except ObjectNotFound:
                    listed = False
                physical = (
                    isinstance(store, LocalObjectStore) and (store._paths(pid)[0] / path).exists()
                )
                state = self._copy_state(pid, loc.name)
                if (listed or physical) and state != CopyState.DESTROY_PENDING:
                    self.bad(f"destroyed object {pid}/{path} still present at {loc.name}")

    def _copy_state(self, pid: str, location: str) -> str | None:
        with self.inst.db.read() as s:
            return s.scalar(
                select(StorageCopy.state).where(
                    StorageCopy.package_id == pid, StorageCopy.location == location
                )
            )

    def _ledger(self) -> None:
        # an execution of 销毁 killed before its commit left storage ahead of the ledger: its
        # repetition (the batch is still open) records the new digests
        destroying = {aip for aip, _ in self._destroying()}
        with self.inst.db.read() as s:
            rows = s.execute(
                select(
                    StorageCopy.package_id, StorageCopy.location, StorageCopy.package_digest
                ).where(StorageCopy.state == CopyState.PRESENT.value)
            ).all()
        for pid, location, digest in rows:
            try:
                info = self.system.store(location).package(pid)
            except OSError as exc:
                self.bad(f"ledger: {pid} at {location} unreadable ({exc})")
                continue
            if info is None:
                self.bad(f"ledger says {pid} is present at {location}, but it is not there")
            elif info.digest != digest and pid not in destroying:
                self.bad(f"ledger digest of {pid} at {location} differs from the copy's")

    # -- settled -----------------------------------------------------------------------------------

    def _reconcile(self) -> None:
        from lantai.ingest.reconcile import reconcile

        self.reconciled = reconcile(self.inst, self.primary, stopped=True)

    def _ended(self) -> None:
        with self.inst.db.read() as s:
            for t in s.scalars(select(IngestTransfer)):
                if not TransferState(t.state).terminal:
                    self.bad(f"transfer {t.uid} did not finish: {t.state}")
                elif t.state == TransferState.FAILED.value and not t.error:
                    self.bad(f"transfer {t.uid} failed without an error")
            for job in s.scalars(select(Job)):
                if job.state == "running":
                    self.bad(f"job {job.id} ({job.kind}) still running (owner {job.lease_owner})")
                elif job.state == "queued" and not job.params.get("scheduled"):
                    self.bad(f"job {job.id} ({job.kind}) still queued: {job.error}")
                elif job.state in ("failed", "cancelled") and not job.error:
                    self.bad(f"job {job.id} ({job.kind}) {job.state} without an error")

    def _expected_present(self) -> None:
        if not self.expected:
            return
        with self.inst.db.read() as s:
            have = set(s.scalars(select(Record.archival_code).where(Record.level == "item")))
            done = s.scalar(
                select(func.count()).where(IngestTransfer.state == TransferState.DONE.value)
            )
        missing = self.expected - have
        if missing and done:
            # a transfer may have visibly failed: its codes are then legitimately absent
            with self.inst.db.read() as s:
                failed = int(
                    s.scalar(
                        select(func.count()).where(
                            IngestTransfer.state == TransferState.FAILED.value
                        )
                    )
                    or 0
                )
            if not failed:
                self.bad(f"records lost: {sorted(missing)[:5]}")

    def _known_packages(self) -> dict[str, str]:
        from lantai.store import ScanBatch, ScanDerivative

        known: dict[str, str] = {}
        with self.inst.db.read() as s:
            for t in s.scalars(select(IngestTransfer)):
                if t.aip_id and t.state in COMMITTED:
                    known[t.aip_id] = f"AIP of {t.uid}"
                if t.state == TransferState.REJECTED.value:
                    known[f"rpt-{t.uid}"] = f"report of {t.uid}"
            for pid in s.scalars(select(ScanBatch.package_id)):
                known[pid] = "scan masters"
            for key in s.scalars(select(ScanDerivative.object_key)):
                known[key.partition("/")[0]] = "searchable PDF"
            for register in s.scalars(
                select(DisposalBatch.register_package).where(
                    DisposalBatch.register_package.is_not(None)
                )
            ):
                known[str(register)] = "销毁清册"
        return known

    def _orphans(self) -> None:
        known = self._known_packages()
        for pid in self.primary.packages():
            if pid not in known:
                self.bad(f"package {pid} is named by nothing (leaked)")
        for pid in self.primary.incoming():
            if pid in known:
                self.bad(f"partial write of {pid} left beside the committed package")

    def _policy(self) -> None:
        from lantai.storage.ledger import policy_satisfied

        with self.inst.db.read() as s:
            aips = [
                t.aip_id
                for t in s.scalars(
                    select(IngestTransfer).where(IngestTransfer.state == TransferState.DONE.value)
                )
                if t.aip_id
            ]
            failed = {
                str(j.params.get("package_id"))
                for j in s.scalars(
                    select(Job).where(Job.kind == REPLICATE_KIND, Job.state == "failed")
                )
            }
        for aip in aips:
            if aip not in failed and not policy_satisfied(self.inst, aip, self.system.policy):
                self.bad(f"AIP {aip}: storage policy not satisfied and no failed replication")

    def _index(self) -> None:
        import tantivy

        from lantai.search.index import SearchReader
        from lantai.search.indexer import Indexer
        from lantai.search.runtime import search_home

        home = search_home(self.inst)
        home.ensure()
        reader = SearchReader(home)
        indexer = Indexer(self.inst, home, reader=reader)
        if not indexer.acquire():
            self.bad(f"search index writer lock still held by {indexer.lock.holder()}")
            return
        try:
            indexer.ensure()
            reader.refresh()
            snap = reader.snapshot()
        finally:
            indexer.release()
        with self.inst.db.read() as s:
            active = list(s.scalars(select(Record.id).where(Record.lifecycle == "active")))
        if snap is None:
            self.bad("search index has no live generation")
            return
        searcher = snap.searcher
        if searcher.num_docs != len(active):
            self.bad(f"search index holds {searcher.num_docs} documents, {len(active)} active")
        for rid in active:
            q = tantivy.Query.range_query(snap.schema, "id", tantivy.FieldType.Integer, rid, rid)
            n = len(searcher.search(q, limit=2).hits)
            if n != 1:
                self.bad(f"record {rid} is {n} times in the search index")
