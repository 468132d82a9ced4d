"""Reconcile: remove what ingests that never committed left behind (``lantai ingest reconcile``).

After ``kill -9`` the state machine makes every transfer resumable, so the only leftovers are
those of transfers that ended without committing their catalogue transaction (``failed``) or
that are gone from the database: staging directories, uploads, and packages written to the
object store. :func:`reconcile` removes exactly those, and re-queues jobs whose worker died.

What is never touched: anything of a transfer still in progress (its job will resume it), the
AIP of a transfer that committed (``stored``, ``catalogued``, ``done``), the report package of a
rejected transfer, and any stored package the transfers table does not name — an AIP id is
recorded in the database *before* the package is written, so a package unknown to it is not an
ingest leftover and is only listed.

Public API: :func:`reconcile` → :class:`ReconcileReport`; :func:`discard_package`;
:func:`package_referenced`.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import or_, select

from lantai.audit import EventType
from lantai.instance import Instance
from lantai.jobs import recover
from lantai.storage import ObjectStore, open_store
from lantai.store import IngestTransfer, IngestUpload, TransferState

__all__ = ["ReconcileReport", "discard_package", "package_referenced", "reconcile"]

log = logging.getLogger("lantai.ingest")

REPORT_PREFIX = "rpt-"


@dataclass
class ReconcileReport:
    jobs_requeued: list[int] = field(default_factory=list)
    staging_removed: list[str] = field(default_factory=list)
    uploads_removed: list[str] = field(default_factory=list)
    packages_discarded: list[str] = field(default_factory=list)
    packages_unknown: list[str] = field(default_factory=list)  # not named by any transfer: kept
    partial_writes_removed: list[str] = field(default_factory=list)  # of packages that are kept

    @property
    def changed(self) -> bool:
        return bool(
            self.jobs_requeued
            or self.staging_removed
            or self.uploads_removed
            or self.packages_discarded
            or self.partial_writes_removed
        )


def _owner(inst: Instance, package_id: str) -> IngestTransfer | None:
    with inst.db.read() as s:
        if package_id.startswith(REPORT_PREFIX):
            return s.scalar(
                select(IngestTransfer).where(
                    IngestTransfer.uid == package_id.removeprefix(REPORT_PREFIX)
                )
            )
        return s.scalar(select(IngestTransfer).where(IngestTransfer.aip_id == package_id))


def package_referenced(inst: Instance, package_id: str) -> bool:
    """True unless the package belongs to a transfer that ended without needing it.

    A package no transfer names is reported as referenced: it is not ours to remove.
    """
    row = _owner(inst, package_id)
    if row is None:
        return True
    state = TransferState(row.state)
    if not state.terminal:
        return True  # in progress: its job resumes it
    if package_id.startswith(REPORT_PREFIX):
        return state is TransferState.REJECTED
    return state is TransferState.DONE


def discard_package(inst: Instance, store: ObjectStore, package_id: str, *, reason: str) -> bool:
    """Remove an unreferenced ingest package through the store's guarded method; log it."""
    removed = store.discard_uncommitted(
        package_id, reason=reason, referenced=lambda pid: package_referenced(inst, pid)
    )
    if removed:
        with inst.db.write() as s:
            inst.audit.append(
                s,
                actor="system:ingest",
                action=EventType.STORAGE_PACKAGE_DISCARDED,
                object_type="package",
                object_id=package_id,
                detail={"reason": reason},
            )
    return removed


def _dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def reconcile(
    inst: Instance, store: ObjectStore | None = None, *, stopped: bool = False
) -> ReconcileReport:
    """Re-queue abandoned jobs; remove staging, uploads and packages nobody will use.

    ``stopped``: the caller knows no process is writing to the store (every server and worker
    is stopped), so partial writes beside a committed package that no transfer names (scan
    masters, searchable PDFs, 销毁清册 — written by a process that was killed, the package then
    committed by a later run) are abandoned too and removed; they are listed otherwise.
    """
    from lantai.jobs import default_registry

    store = store or open_store(inst.settings)
    report = ReconcileReport(jobs_requeued=recover(inst, default_registry()))
    staging = inst.settings.staging_dir

    # Staging directories of transfers that ended (or that the database does not know).
    with inst.db.read() as s:
        live = {
            uid
            for uid, state in s.execute(select(IngestTransfer.uid, IngestTransfer.state))
            if not TransferState(state).terminal
        }
    for d in _dirs(staging / "transfers"):
        if d.name not in live:
            shutil.rmtree(d, ignore_errors=True)
            report.staging_removed.append(d.name)

    # Uploads: unknown ones, and completed ones whose transfer ended (open uploads resume).
    with inst.db.read() as s:
        uploads = {
            u.uid: (u.state, state)
            for u, state in s.execute(
                select(IngestUpload, IngestTransfer.state).outerjoin(
                    IngestTransfer, IngestTransfer.id == IngestUpload.transfer_id
                )
            )
        }
    for d in _dirs(staging / "uploads"):
        found = uploads.get(d.name)
        ended = found is not None and found[1] is not None and TransferState(found[1]).terminal
        if found is None or ended:
            shutil.rmtree(d, ignore_errors=True)
            report.uploads_removed.append(d.name)

    # Stored and half-written packages of transfers that never committed.
    with inst.db.read() as s:
        named = {
            a
            for (a,) in s.execute(
                select(IngestTransfer.aip_id).where(IngestTransfer.aip_id.is_not(None))
            )
        }
        named |= {
            REPORT_PREFIX + uid
            for (uid,) in s.execute(
                select(IngestTransfer.uid).where(
                    or_(
                        IngestTransfer.state == TransferState.REJECTED.value,
                        IngestTransfer.state == TransferState.FAILED.value,
                        IngestTransfer.decision == "reject",
                    )
                )
            )
        }
    committed = set(store.packages())
    partial = set(store.incoming())
    for package_id in sorted(committed | partial):
        if package_id not in named:
            if stopped and package_id in partial and package_id in committed:
                if store.discard_abandoned_writes(package_id):
                    report.partial_writes_removed.append(package_id)
                continue
            report.packages_unknown.append(package_id)
            continue
        owner = _owner(inst, package_id)
        ended = owner is not None and TransferState(owner.state).terminal
        if not package_referenced(inst, package_id):
            if discard_package(inst, store, package_id, reason="reconcile：所属移交未完成接收"):
                report.packages_discarded.append(package_id)
        elif ended and package_id in partial and store.discard_abandoned_writes(package_id):
            # Kept package, but a writer that died left a partial copy of it beside it.
            report.partial_writes_removed.append(package_id)
    if report.changed:
        log.warning("reconcile: %s", report)
    return report
