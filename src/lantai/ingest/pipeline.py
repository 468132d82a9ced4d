"""The resumable ingest of one transfer: a state machine, one committed step at a time.

::

    received ─stage─▶ staged ─check─▶ checked ─decide─▶ rejected
                                          └────────────▶ accepted_pending ─store─▶ stored
                                                          ─catalogue─▶ catalogued ─finish─▶ done

``Pipeline(inst).run(transfer_id)`` runs whatever steps remain. Each step does its work, then
moves the state forward with a compare-and-set (``UPDATE … WHERE state = <expected>``) in the
same transaction as its audit events, so:

- **stage** reads the package once (``lantai.ingest.readers.read_transfer``: safe unpacking,
  SHA-256 + SM3 while writing), hashes whatever the reader did not, identifies formats (each
  file as soon as it is hashed, in siegfried child processes beside the reading), and
  writes the Transfer snapshot into the transfer's staging directory. A crash here restarts the
  step from an empty directory. An unreadable or unsafe package goes straight to ``checked``
  with a report holding that one blocking failure.
- **check** runs the DA/T 70 catalogue on the snapshot and writes the report (JSON/HTML/PDF);
  the decision and the AIP id are committed with ``checked``.
- **decide** stores the report of a rejected transfer in the object store (``rpt-<uid>``) and
  ends it; an accepted one moves to ``accepted_pending``.
- **store** builds the AIP through the store (idempotent: a package already committed under
  the recorded AIP id is adopted), then commits ``stored``.
- **catalogue** is ONE transaction: the state compare-and-set first (it locks the row, so a
  second worker can never write the records twice), then every record, file link and text, and
  the ``ingest:transfer:accepted`` event. A crash inside it rolls all of it back.
- **finish** removes the staging directory (and an uploaded package) and commits ``done``.

``kill -9`` at any point therefore leaves the transfer in its last committed state; the job is
re-queued (expired lease or dead owner) and resumes there. The catalogue holds all of the
transfer or none of it, and the only possible leftovers — files of a transfer that then fails —
are removed by :func:`lantai.ingest.service.mark_failed` or ``lantai ingest reconcile``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lantai import faults
from lantai.audit import EventType, Outcome
from lantai.errors import InputError, ValidationFailed
from lantai.ingest.aip import AipSpec, build_aip
from lantai.ingest.cataloguing import write_catalogue
from lantai.ingest.checks import (
    CheckContext,
    CheckReport,
    Decision,
    Finding,
    Stage,
    Status,
    load_catalogue,
    run_checks,
)
from lantai.ingest.checks._core import CheckOutcome, bindings
from lantai.ingest.fulltexts import document_texts, plain_texts
from lantai.ingest.report import REPORT_NAME, TransferFacts, report_data, write_reports
from lantai.ingest.service import (
    INGEST_ACTOR,
    TRANSFER_OBJECT,
    _remove_owned_source,
    report_package_id,
    work_dir,
)
from lantai.ingest.snapshot import read_snapshot, write_snapshot
from lantai.ingest.transfer import SourceKind, Transfer
from lantai.instance import Instance
from lantai.jobs import PermanentJobError
from lantai.storage import ObjectStore, open_store
from lantai.storage.tasks import enqueue_replication
from lantai.store import Event, IngestTransfer, ReviewState, TransferState, utcnow

__all__ = ["STEP_LABELS", "Pipeline", "Progress", "StateChanged"]

log = logging.getLogger("lantai.ingest")

SNAPSHOT = "transfer.json"
TEXTS = "texts.json"
REPORT_DIR = "report"
PACKAGE_DIR = "package"

Progress = Callable[..., None]  # (step, done=None, total=None, *, message="", persist=True)

STEP_LABELS = {
    "unpack": "读取与解包",
    "hash": "计算数字摘要",
    "identify": "格式识别",
    "check": "四性检测",
    "decide": "判定",
    "store": "生成并保存 AIP",
    "catalogue": "编目入库",
    "finish": "清理",
}


class StateChanged(Exception):
    """Another worker moved the transfer on (its lease was taken over); stop this run."""


def _noop(*_args: Any, **_kw: Any) -> None:
    return None


class Pipeline:
    """Runs the remaining steps of transfers of one instance (see the module docstring)."""

    def __init__(
        self,
        inst: Instance,
        *,
        store: ObjectStore | None = None,
        progress: Progress | None = None,
        services: Mapping[str, Any] | None = None,
    ) -> None:
        self.inst = inst
        self.store = store or open_store(inst.settings)
        self.progress = progress or _noop
        self._services = services
        self._transfer: Transfer | None = None  # the snapshot of the transfer being run

    def _snapshot(self, row: IngestTransfer) -> Transfer:
        """The staged transfer: kept in memory between steps, read back after a restart."""
        if self._transfer is None or self._transfer.uid != row.uid:
            self._transfer = read_snapshot(self._work(row) / SNAPSHOT)
        return self._transfer

    # -- driver ----------------------------------------------------------------------------------

    def run(self, transfer_id: int) -> TransferState:
        steps: dict[TransferState, Callable[[IngestTransfer], None]] = {
            TransferState.RECEIVED: self._stage,
            TransferState.STAGED: self._check,
            TransferState.CHECKED: self._decide,
            TransferState.ACCEPTED_PENDING: self._store,
            TransferState.STORED: self._catalogue,
            TransferState.CATALOGUED: self._finish,
        }
        while True:
            row = self._load(transfer_id)
            state = TransferState(row.state)
            if state.terminal:
                return state
            steps[state](row)

    def _load(self, transfer_id: int) -> IngestTransfer:
        with self.inst.db.read() as s:
            row = s.get(IngestTransfer, transfer_id)
        if row is None:
            raise PermanentJobError(f"transfer {transfer_id} does not exist")
        return row

    def _advance(
        self,
        s: Session,
        row: IngestTransfer,
        expect: TransferState,
        to: TransferState,
        **values: Any,
    ) -> None:
        """Compare-and-set the state (first statement of the transaction: it locks the row)."""
        done = s.execute(
            update(IngestTransfer)
            .where(IngestTransfer.id == row.id, IngestTransfer.state == expect.value)
            .values(state=to.value, updated_at=utcnow(), **values)
        ).rowcount  # type: ignore[attr-defined]
        if done != 1:
            raise StateChanged(f"transfer {row.uid} is no longer {expect.value}")

    def _event(
        self,
        s: Session,
        row: IngestTransfer,
        action: EventType,
        detail: dict[str, Any],
        *,
        outcome: Outcome = Outcome.SUCCESS,
    ) -> None:
        self.inst.audit.append(
            s,
            actor=INGEST_ACTOR.username,
            action=action,
            object_type=TRANSFER_OBJECT,
            object_id=row.uid,
            outcome=outcome,
            detail={"submitted_by": row.created_by, **detail},
        )

    def _work(self, row: IngestTransfer) -> Path:
        return work_dir(self.inst.settings, row.uid)

    def _clean(self, row: IngestTransfer) -> None:
        shutil.rmtree(self._work(row), ignore_errors=True)
        if row.source_owned:
            _remove_owned_source(self.inst.settings, Path(row.source_path))

    # -- stage -----------------------------------------------------------------------------------

    def _stage(self, row: IngestTransfer) -> None:
        from lantai.ingest.digests import hash_files, observe_hashed
        from lantai.ingest.identifying import IdentifyStream
        from lantai.ingest.readers import read_transfer

        settings = self.inst.settings
        work = self._work(row)
        if work.exists():  # a staging that died half-way: start it again from nothing
            shutil.rmtree(work)
        work.mkdir(parents=True)
        self.progress("unpack", message=f"读取 {row.source_name}")
        read_bytes = 0

        def reading(n: int) -> None:
            nonlocal read_bytes
            read_bytes += n
            self.progress("unpack", read_bytes, None, message=f"读取 {row.source_name}")

        # Files are identified as soon as they are hashed (siegfried children beside the reading).
        with IdentifyStream(workers=settings.ingest_workers) as ident:
            with observe_hashed(lambda f: ident.add(f.local)):
                t0 = time.perf_counter()
                try:
                    transfer = read_transfer(
                        self.inst,
                        Path(row.source_path),
                        staging=work / PACKAGE_DIR,
                        kind=SourceKind(row.kind) if row.kind else None,
                        fonds_code=row.fonds_code,
                        category=row.category,
                        uid=row.uid,
                        source_name=row.source_name,
                        progress=reading,
                    )
                except InputError as exc:
                    ident.close()
                    self._reject_unreadable(row, exc)
                    return
                read_s = time.perf_counter() - t0
                faults.point("ingest.stage.read")
                transfer.uid = row.uid
                if row.package_sha256 and not transfer.package_sha256:
                    transfer.package_sha256 = row.package_sha256
                    transfer.package_sm3 = row.package_sm3
                    transfer.package_size = row.package_size
                declared_sha = (row.register or {}).get("declared_sha256")
                if declared_sha and not transfer.declared.package_sha256:
                    transfer.declared = replace(transfer.declared, package_sha256=declared_sha)

                todo = [f for f in transfer.files if f.sha256 is None or f.sm3 is None]
                total = sum(f.size for f in todo)
                hashed = 0

                def advance(n: int) -> None:
                    nonlocal hashed
                    hashed += n
                    self.progress("hash", hashed, total)

                t1 = time.perf_counter()
                hash_files(transfer.files, workers=settings.ingest_workers, progress=advance)
                hash_s = time.perf_counter() - t1
            unknown = [f for f in transfer.files if f.format is None]
            self.progress("identify", ident.streamed, len(unknown))
            t2 = time.perf_counter()
            found = ident.finish([f.local for f in unknown])
            for f in unknown:
                f.format = found.get(f.local)
            ident_s = time.perf_counter() - t2  # what was left after the reading
            self.progress("identify", len(unknown), len(unknown))
        write_snapshot(transfer, work / SNAPSHOT)
        self._transfer = transfer
        faults.point("ingest.stage.snapshot")

        content = transfer.content_files()
        formats = Counter(
            (f.format.puid or "未识别") if f.format is not None else "未识别" for f in content
        )
        reg = transfer.register
        register = dict(row.register or {})
        if reg is not None:
            register.update(
                unit=reg.unit,
                time=reg.time,
                category=reg.category,
                items=reg.items,
                bytes=reg.bytes,
                method=reg.method,
                carrier=reg.carrier,
            )
        with self.inst.db.write() as s:
            self._advance(
                s,
                row,
                TransferState.RECEIVED,
                TransferState.STAGED,
                kind=transfer.kind.value,
                actual_items=len(transfer.records),
                actual_files=len(content),
                actual_bytes=transfer.total_bytes,
                declared_items=(
                    reg.items if reg and reg.items is not None else transfer.declared.items
                ),
                declared_bytes=(
                    reg.bytes if reg and reg.bytes is not None else transfer.declared.bytes
                ),
                package_size=transfer.package_size,
                package_sha256=transfer.package_sha256,
                package_sm3=transfer.package_sm3,
                register=register,
                fonds_code=row.fonds_code or transfer.fonds_code,
                category=row.category or transfer.category,
            )
            self._event(
                s,
                row,
                EventType.INGEST_TRANSFER_UNPACKED,
                {
                    "kind": transfer.kind.value,
                    "files": len(transfer.files),
                    "records": len(transfer.records),
                    "notes": len(transfer.notes),
                    "seconds": round(read_s, 3),
                },
            )
            self._event(
                s,
                row,
                EventType.INGEST_DIGESTS_CALCULATED,
                {
                    "algorithms": ["SHA-256", "SM3"],
                    "files": len(transfer.files),
                    "bytes": sum(f.size for f in transfer.files),
                    "hashed_while_reading": len(transfer.files) - len(todo),
                    "seconds": round(hash_s, 3),
                    "package_sha256": transfer.package_sha256,
                    "package_sm3": transfer.package_sm3,
                },
            )
            self._event(
                s,
                row,
                EventType.INGEST_FORMATS_IDENTIFIED,
                {
                    "files": len(unknown),
                    "formats": dict(formats),
                    "seconds": round(ident_s, 3),
                    "while_reading": ident.streamed,
                },
            )
        faults.point("ingest.staged")

    def _reject_unreadable(self, row: IngestTransfer, exc: InputError) -> None:
        """An unreadable or unsafe package: a report with that one blocking failure."""
        from lantai.ingest.unpack import UnsafeArchive

        stage = row.stage if row.stage in ("YJ", "GD") else "YJ"
        code = f"{stage}-4-7" if isinstance(exc, UnsafeArchive) else f"{stage}-3-1"
        specs = {s.code: s for s in load_catalogue()}
        spec = specs[code].model_copy(update={"blocking": True, "enabled": True})
        findings = [
            Finding(
                code=code,
                status=Status.FAILED,
                message=p.message,
                file=p.file or row.source_name,
                field=p.field,
                found=p.value,
                rule=p.rule,
            )
            for p in exc.problems[:1000]
        ] or [Finding(code=code, status=Status.FAILED, message=exc.message, file=row.source_name)]
        now = datetime.now(UTC)
        report = CheckReport(
            row.uid,
            Stage(stage),
            row.mode,
            now,
            now,
            [CheckOutcome(spec, Status.FAILED, findings, 0.0)],
        )
        facts = TransferFacts(
            uid=row.uid,
            source_name=row.source_name,
            kind=row.kind or "unknown",
            package_size=row.package_size,
            package_sha256=row.package_sha256,
            package_sm3=row.package_sm3,
        )
        work = self._work(row)
        shutil.rmtree(work / PACKAGE_DIR, ignore_errors=True)
        (work / REPORT_DIR).mkdir(parents=True, exist_ok=True)
        data = report_data(report, facts, archive_name=self.inst.settings.archive_name)
        write_reports(data, work / REPORT_DIR)
        with self.inst.db.write() as s:
            self._advance(
                s,
                row,
                TransferState.RECEIVED,
                TransferState.CHECKED,
                decision=Decision.REJECT.value,
                counts=report.counts(),
                error=exc.message[:4000],
            )
            self._event(
                s,
                row,
                EventType.INGEST_TRANSFER_CHECKED,
                {
                    "decision": Decision.REJECT.value,
                    "counts": report.counts(),
                    "failed": [code],
                    "unreadable": exc.message[:500],
                },
                outcome=Outcome.FAILURE,
            )

    # -- check -----------------------------------------------------------------------------------

    def services(self) -> Mapping[str, Any]:
        """Outside services the checks may use (the virus scanner, or None when unavailable)."""
        if self._services is not None:
            return self._services
        scanner = None
        try:
            from lantai.formats.clamav import scanner_from_settings

            scanner = scanner_from_settings(self.inst.settings)
        except Exception:  # no scanner configured or reachable: the check says 人工复核
            log.info("no virus scanner available", exc_info=True)
        self._services = {"clamav": scanner}
        return self._services

    def _check(self, row: IngestTransfer) -> None:
        work = self._work(row)
        transfer = self._snapshot(row)
        self.progress("check", message="四性检测")
        ctx = CheckContext(
            transfer=transfer,
            stage=Stage(row.stage),
            inst=self.inst,
            actor=INGEST_ACTOR,
            today=self.inst.catalogue.today(),
            services=self.services(),
        )
        mode: Literal["quick", "full"] = "quick" if row.mode == "quick" else "full"
        t0 = time.perf_counter()
        report = run_checks(ctx, load_catalogue(), bindings(), mode=mode)
        t1 = time.perf_counter()
        data = report_data(
            report,
            TransferFacts.from_transfer(transfer),
            archive_name=self.inst.settings.archive_name,
        )
        (work / REPORT_DIR).mkdir(exist_ok=True)
        write_reports(data, work / REPORT_DIR)
        t2 = time.perf_counter()
        decision = report.decision
        if decision is not Decision.REJECT:
            texts = document_texts(ctx.cache, transfer)  # plain texts: read when cataloguing
            (work / TEXTS).write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        failed = [o.spec.code for o in report.outcomes if o.status is Status.FAILED]
        manual = [o.spec.code for o in report.outcomes if o.status is Status.MANUAL]
        faults.point("ingest.check.reports")
        with self.inst.db.write() as s:
            self._advance(
                s,
                row,
                TransferState.STAGED,
                TransferState.CHECKED,
                decision=decision.value,
                counts=report.counts(),
                review=(
                    ReviewState.PENDING.value
                    if decision is Decision.ACCEPT_FLAGGED
                    else ReviewState.NONE.value
                ),
                aip_id=None if decision is Decision.REJECT else str(uuid.uuid4()),
            )
            self._event(
                s,
                row,
                EventType.INGEST_TRANSFER_CHECKED,
                {
                    "decision": decision.value,
                    "counts": report.counts(),
                    "failed": failed,
                    "manual": manual,
                    "mode": mode,
                    "seconds": round(t1 - t0, 3),
                    "report_seconds": round(t2 - t1, 3),
                },
                outcome=Outcome.FAILURE if decision is Decision.REJECT else Outcome.SUCCESS,
            )
        faults.point("ingest.checked")

    # -- decide ----------------------------------------------------------------------------------

    def _report_files(self, row: IngestTransfer) -> list[Path]:
        directory = self._work(row) / REPORT_DIR
        return [directory / f"{REPORT_NAME}.{ext}" for ext in ("json", "html", "pdf")]

    def _decide(self, row: IngestTransfer) -> None:
        self.progress("decide")
        if row.decision != Decision.REJECT.value:
            with self.inst.db.write() as s:
                self._advance(s, row, TransferState.CHECKED, TransferState.ACCEPTED_PENDING)
            return
        package_id = report_package_id(row.uid)
        if self.store.package(package_id) is None:
            with self.store.begin(package_id) as writer:
                for path in self._report_files(row):
                    writer.put_bytes(path.name, path.read_bytes())
                snapshot = self._work(row) / SNAPSHOT
                if snapshot.exists():
                    writer.put_bytes(SNAPSHOT, snapshot.read_bytes())
                writer.commit()
        faults.point("ingest.reject.report_stored")
        blocking = _blocking_failures(self._work(row) / REPORT_DIR / f"{REPORT_NAME}.json")
        with self.inst.db.write() as s:
            self._advance(
                s,
                row,
                TransferState.CHECKED,
                TransferState.REJECTED,
                report_key=f"{package_id}/{REPORT_NAME}.json",
                finished_at=utcnow(),
            )
            self._event(
                s,
                row,
                EventType.INGEST_TRANSFER_REJECTED,
                {"blocking_failures": blocking, "report": package_id, "counts": row.counts},
                outcome=Outcome.FAILURE,
            )
        self._clean(row)

    # -- store -----------------------------------------------------------------------------------

    def _store(self, row: IngestTransfer) -> None:
        work = self._work(row)
        if not row.aip_id:
            raise PermanentJobError(f"transfer {row.uid} was accepted without an AIP id")
        transfer = self._snapshot(row)
        self.progress("store", 0, len(transfer.files), message="生成长期保存信息包")
        with self.inst.db.read() as s:
            events = list(
                s.scalars(
                    select(Event)
                    .where(Event.object_type == TRANSFER_OBJECT, Event.object_id == row.uid)
                    .order_by(Event.seq)
                )
            )
        category = row.category or transfer.category
        scheme = self.inst.domain.scheme_for(category)

        def element_name(_cat: str | None, key: str) -> str:
            el = scheme.element(key)
            return el.name if el is not None else key

        spec = AipSpec(
            aip_id=row.aip_id,
            transfer=transfer,
            transfer_uid=row.uid,
            created=utcnow(),
            archive_name=self.inst.settings.archive_name,
            archive_code=self.inst.settings.archive_code,
            submitted_by=row.created_by,
            decision=row.decision or "",
            events=events,
            reports=self._report_files(row),
            snapshot=work / SNAPSHOT,
            element_name=element_name,
        )
        t0 = time.perf_counter()
        result = build_aip(self.store, spec)
        faults.point("ingest.aip_committed")
        self.progress("store", len(transfer.files), len(transfer.files))
        with self.inst.db.write() as s:
            self._advance(
                s,
                row,
                TransferState.ACCEPTED_PENDING,
                TransferState.STORED,
                report_key=f"{row.aip_id}/data/metadata/report/{REPORT_NAME}.json",
            )
            self._event(
                s,
                row,
                EventType.INGEST_AIP_STORED,
                {
                    "aip": row.aip_id,
                    "objects": result.package.objects,
                    "bytes": result.package.bytes,
                    "index_sha256": result.package.digest,
                    "mets_sha256": result.mets_sha256,
                    "seconds": round(time.perf_counter() - t0, 3),
                },
            )
        faults.point("ingest.stored")

    # -- catalogue -------------------------------------------------------------------------------

    def _catalogue(self, row: IngestTransfer) -> None:
        work = self._work(row)
        transfer = self._snapshot(row)
        texts_file = work / TEXTS
        texts = json.loads(texts_file.read_text(encoding="utf-8")) if texts_file.exists() else {}
        texts.update(plain_texts(transfer))
        total = len(transfer.records)
        self.progress("catalogue", 0, total, message="编目入库")
        t0 = time.perf_counter()
        try:
            with self.inst.db.write() as s:
                self._advance(s, row, TransferState.STORED, TransferState.CATALOGUED)
                result = write_catalogue(
                    self.inst,
                    s,
                    INGEST_ACTOR,
                    transfer,
                    transfer_uid=row.uid,
                    transfer_id=row.id,
                    aip_id=row.aip_id or "",
                    fonds_code=row.fonds_code,
                    category=row.category,
                    submitted_by=row.created_by,
                    texts=texts,
                    # inside the write transaction: tell the observer, write nothing
                    progress=lambda done, tot: self.progress("catalogue", done, tot, persist=False),
                )
                s.execute(
                    update(IngestTransfer)
                    .where(IngestTransfer.id == row.id)
                    .values(fonds_id=result.fonds_id, record_count=len(result.records))
                )
                # 长期保存: the AIP's copies (storage policy) are made by the replication job
                # queued in this same transaction; storage.policy_satisfied(aip) tells when.
                enqueue_replication(self.inst, s, row.aip_id or "", created_by=row.created_by)
                self._event(
                    s,
                    row,
                    EventType.INGEST_TRANSFER_ACCEPTED,
                    {
                        "decision": row.decision,
                        "review": row.review,
                        "aip": row.aip_id,
                        "fonds_id": result.fonds_id,
                        "records": len(result.records),
                        "series": sorted(result.series),
                        "files": result.files,
                        "texts": result.texts,
                        "skipped_values": result.skipped_values,
                        "seconds": round(time.perf_counter() - t0, 3),
                    },
                )
                faults.point("ingest.catalogue.written")
        except ValidationFailed as exc:
            raise PermanentJobError(str(exc)) from exc
        faults.point("ingest.catalogued")

    # -- finish ----------------------------------------------------------------------------------

    def _finish(self, row: IngestTransfer) -> None:
        self.progress("finish")
        self._clean(row)
        faults.point("ingest.finish.cleaned")
        with self.inst.db.write() as s:
            self._advance(
                s, row, TransferState.CATALOGUED, TransferState.DONE, finished_at=utcnow()
            )


def _blocking_failures(report_json: Path) -> list[str]:
    try:
        data = json.loads(report_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [
        str(item.get("code"))
        for item in data.get("items", [])
        if item.get("blocking") and item.get("status") == Status.FAILED.value
    ]
