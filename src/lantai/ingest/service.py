"""Receiving transfers: submission, visibility, review of flagged items, failure.

Public API:

- :func:`submit` — register a received package (a path the server can read: a CLI argument, an
  assembled upload) as a transfer in state ``received`` and enqueue its ingest job, in one
  transaction; records ``ingest:transfer:received``. The same idempotency key from the same
  account returns the existing transfer instead (nothing new is written).
- :func:`get_transfer`, :func:`list_transfers` — what an actor may see: an agency account sees the
  transfers it submitted; holders of ``ingest:transfer:review`` see all.
- :func:`review` — an archivist confirms the flagged (人工复核 / non-blocking 不通过) items of an
  accepted transfer with a reason; records ``ingest:transfer:reviewed``.
- :func:`mark_failed` — the job gave up: the transfer becomes ``failed`` (terminal), its
  uncommitted AIP and staging are removed; records ``ingest:transfer:failed``.
- :func:`transfer_json` — the API/page view of a transfer and its job.

The work itself (stage → check → decide → store → catalogue → clean up) is
:class:`lantai.ingest.pipeline.Pipeline`, run by the ``ingest.transfer`` job
(:mod:`lantai.ingest.tasks`).
"""

from __future__ import annotations

import logging
import shutil
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lantai.archival import Level
from lantai.audit import EventType, Outcome
from lantai.errors import Conflict, NotFound, Problem, ValidationFailed
from lantai.ingest.transfer import SourceKind
from lantai.instance import Instance
from lantai.jobs import JobState, enqueue
from lantai.security import Actor, Perm
from lantai.settings import Settings
from lantai.store import IngestTransfer, Job, Record, ReviewState, TransferState, utcnow

__all__ = [
    "INGEST_ACTOR",
    "JOB_KIND",
    "TRANSFER_OBJECT",
    "Submission",
    "get_transfer",
    "list_transfers",
    "mark_failed",
    "report_package_id",
    "review",
    "submit",
    "transfer_json",
    "upload_dir",
    "work_dir",
]

log = logging.getLogger("lantai.ingest")

JOB_KIND = "ingest.transfer"
TRANSFER_OBJECT = "transfer"  # Event.object_type of every ingest event (object_id: the uid)
STAGES = ("YJ", "GD")

# The ingest job acts for the archive, not for the sender: an agency account may submit a
# transfer but may not write the catalogue itself. Events name the submitter in their detail.
INGEST_ACTOR = Actor(
    username="system:ingest",
    display_name="一键归档（后台作业）",
    is_operator=True,
    clearance="绝密",
    clearance_rank=99,
)


def work_dir(settings: Settings, uid: str) -> Path:
    """The staging directory a transfer owns while it is processed."""
    return settings.staging_dir / "transfers" / uid


def upload_dir(settings: Settings, uid: str) -> Path:
    """Where a resumable upload is assembled."""
    return settings.staging_dir / "uploads" / uid


def report_package_id(uid: str) -> str:
    """The stored package holding the report of a rejected transfer."""
    return f"rpt-{uid}"


@dataclass(frozen=True, kw_only=True)
class Submission:
    """A package to receive, and how."""

    source: Path
    source_name: str | None = None
    owned: bool = False  # the source is ours (an upload) and is removed when the transfer ends
    kind: SourceKind | None = None
    fonds_code: str | None = None
    category: str | None = None
    stage: Literal["YJ", "GD"] = "YJ"
    mode: Literal["quick", "full"] = "full"
    idempotency_key: str | None = None
    package_size: int | None = None  # digests computed while the package was received
    package_sha256: str | None = None
    package_sm3: str | None = None
    declared_sha256: str | None = None  # the digest the sender declared for the package


def _find_fonds(session: Session, code: str) -> Record | None:
    return session.scalar(
        select(Record).where(Record.archival_code == code, Record.level == Level.FONDS.value)
    )


def _check_submission(inst: Instance, session: Session, sub: Submission) -> dict[str, Any]:
    problems: list[Problem] = []
    source = sub.source
    if not source.exists():
        problems.append(
            Problem(file=str(source), rule="移交包", message="找不到要接收的文件或文件夹")
        )
    fonds_code = None
    if sub.fonds_code and sub.fonds_code.strip():
        fonds_code = unicodedata.normalize("NFKC", sub.fonds_code).strip().upper()
        if _find_fonds(session, fonds_code) is None:
            problems.append(
                Problem(
                    field="全宗号",
                    value=fonds_code,
                    rule="接收目标",
                    message=f"全宗「{fonds_code}」不存在，请先建立全宗",
                )
            )
    category = None
    if sub.category and sub.category.strip():
        category = inst.domain.table("category").normalize(sub.category.strip())
        if category is None:
            problems.append(
                Problem(
                    field="门类",
                    value=sub.category,
                    rule="门类代码表（DA/T 13-2022）",
                    message="不是有效的门类代码或名称",
                )
            )
    if sub.stage not in STAGES:
        problems.append(
            Problem(
                field="环节", value=str(sub.stage), message="环节应为 YJ（移交接收）或 GD（归档）"
            )
        )
    if sub.mode not in ("quick", "full"):
        problems.append(
            Problem(field="模式", value=str(sub.mode), message="模式应为 quick 或 full")
        )
    if sub.idempotency_key is not None and not (0 < len(sub.idempotency_key) <= 200):
        problems.append(Problem(field="幂等键", message="幂等键长度应为 1–200 个字符"))
    if problems:
        raise ValidationFailed("移交未受理", problems)
    return {"fonds_code": fonds_code, "category": category}


def submit(
    inst: Instance,
    session: Session,
    actor: Actor,
    sub: Submission,
    *,
    wake: Callable[[], None] | None = None,
) -> tuple[IngestTransfer, bool]:
    """Register a transfer and enqueue its job in ``session``; returns (transfer, created).

    With an idempotency key already used by this account, the existing transfer is returned
    with ``created=False`` and nothing is written.
    """
    actor.require(Perm.INGEST_TRANSFER_SUBMIT)
    if sub.idempotency_key is not None:
        existing = session.scalar(
            select(IngestTransfer).where(
                IngestTransfer.created_by == actor.username,
                IngestTransfer.idempotency_key == sub.idempotency_key,
            )
        )
        if existing is not None:
            return existing, False
    target = _check_submission(inst, session, sub)
    row = IngestTransfer(
        uid=str(uuid.uuid4()),
        idempotency_key=sub.idempotency_key,
        kind=sub.kind.value if sub.kind is not None else None,
        source_name=(sub.source_name or sub.source.name)[:500],
        source_path=str(sub.source),
        source_owned=sub.owned,
        stage=sub.stage,
        mode=sub.mode,
        fonds_code=target["fonds_code"],
        category=target["category"],
        state=TransferState.RECEIVED.value,
        review=ReviewState.NONE.value,
        package_size=sub.package_size,
        package_sha256=sub.package_sha256,
        package_sm3=sub.package_sm3,
        register={"declared_sha256": sub.declared_sha256} if sub.declared_sha256 else {},
        counts={},
        record_count=0,
        created_by=actor.username,
    )
    session.add(row)
    session.flush()
    job = enqueue(
        session,
        JOB_KIND,
        {"transfer_id": row.id},
        key=f"transfer:{row.uid}",
        created_by=actor.username,
        wake=wake,
    )
    row.job_id = job.id
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.INGEST_TRANSFER_RECEIVED,
        object_type=TRANSFER_OBJECT,
        object_id=row.uid,
        detail={
            "source": row.source_name,
            "kind": row.kind,
            "stage": row.stage,
            "mode": row.mode,
            "fonds_code": row.fonds_code,
            "category": row.category,
            "package_size": row.package_size,
            "package_sha256": row.package_sha256,
            "package_sm3": row.package_sm3,
            "idempotency_key": row.idempotency_key,
        },
    )
    return row, True


def _visible(actor: Actor) -> Any:
    if actor.can(Perm.INGEST_TRANSFER_REVIEW):
        return True
    return IngestTransfer.created_by == actor.username


def get_transfer(session: Session, actor: Actor, uid: str) -> IngestTransfer:
    """The transfer ``uid`` if ``actor`` may see it (else NotFound, as if it did not exist)."""
    actor.require(Perm.INGEST_TRANSFER_READ)
    row = session.scalar(select(IngestTransfer).where(IngestTransfer.uid == uid, _visible(actor)))
    if row is None:
        raise NotFound(f"移交 {uid} 不存在或无权查看")
    return row


def list_transfers(
    session: Session, actor: Actor, *, limit: int = 50, state: str | None = None
) -> Sequence[IngestTransfer]:
    actor.require(Perm.INGEST_TRANSFER_READ)
    q = select(IngestTransfer).where(_visible(actor))
    if state:
        q = q.where(IngestTransfer.state == state)
    return session.scalars(
        q.order_by(IngestTransfer.id.desc()).limit(max(1, min(limit, 500)))
    ).all()


def review(inst: Instance, actor: Actor, uid: str, *, reason: str) -> IngestTransfer:
    """Confirm the flagged items of an accepted transfer (人工复核), with a reason."""
    actor.require(Perm.INGEST_TRANSFER_REVIEW)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "复核未保存", [Problem(field="复核意见", rule="审计要求", message="复核意见不能为空")]
        )
    if len(reason) > 2000:
        raise ValidationFailed(
            "复核未保存", [Problem(field="复核意见", message="复核意见不能超过 2000 个字符")]
        )
    with inst.db.write() as s:
        row = get_transfer(s, actor, uid)
        if row.review != ReviewState.PENDING.value:
            raise Conflict("该移交没有待复核的检测项（或已复核）")
        now = utcnow()
        done = s.execute(
            update(IngestTransfer)
            .where(IngestTransfer.id == row.id, IngestTransfer.review == ReviewState.PENDING.value)
            .values(
                review=ReviewState.CONFIRMED.value,
                review_reason=reason,
                reviewed_by=actor.username,
                reviewed_at=now,
                updated_at=now,
            )
        ).rowcount  # type: ignore[attr-defined]
        if done != 1:
            raise Conflict("该移交已被他人复核")
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.INGEST_TRANSFER_REVIEWED,
            object_type=TRANSFER_OBJECT,
            object_id=row.uid,
            detail={"decision": "confirmed", "reason": reason, "counts": row.counts},
        )
        s.refresh(row)
        return row


def mark_failed(inst: Instance, transfer_id: int, error: str) -> bool:
    """End a transfer the job gave up on; remove what it left. Idempotent.

    A transfer whose catalogue transaction committed (``catalogued``) is in the archive: only
    its clean-up kept failing, so it is finished (``done``) rather than failed. Any earlier
    state becomes ``failed``: its uncommitted AIP and staging are removed. Returns True when
    the transfer was failed.
    """
    from lantai.ingest.reconcile import discard_package
    from lantai.storage import open_store

    with inst.db.write() as s:
        row = s.get(IngestTransfer, transfer_id)
        if row is None or TransferState(row.state).terminal:
            return False
        previous = TransferState(row.state)
        uid, aip_id, source, owned = row.uid, row.aip_id, row.source_path, row.source_owned
        row.finished_at = row.updated_at = utcnow()
        if previous is TransferState.CATALOGUED:
            row.state = TransferState.DONE.value
            row.error = f"清理暂存时出错（接收已完成）：{error[:1000]}"
        else:
            row.state = TransferState.FAILED.value
            row.error = error[:4000]
            inst.audit.append(
                s,
                actor=INGEST_ACTOR.username,
                action=EventType.INGEST_TRANSFER_FAILED,
                object_type=TRANSFER_OBJECT,
                object_id=uid,
                outcome=Outcome.FAILURE,
                detail={"state": previous.value, "error": error[:2000]},
            )
    failed = previous is not TransferState.CATALOGUED
    if failed and aip_id:
        discard_package(inst, open_store(inst.settings), aip_id, reason=f"移交 {uid} 处理失败")
    shutil.rmtree(work_dir(inst.settings, uid), ignore_errors=True)
    if owned:
        _remove_owned_source(inst.settings, Path(source))
    return failed


def _remove_owned_source(settings: Settings, source: Path) -> None:
    """Remove an upload's directory (only ever inside staging/uploads)."""
    uploads = settings.staging_dir / "uploads"
    parent = source.parent
    if parent.parent == uploads:
        shutil.rmtree(parent, ignore_errors=True)


PRESERVATION_LABELS = {"copies_pending": "副本复制中", "preserved": "已按策略保存"}


def _preservation(state: TransferState, row: IngestTransfer) -> str | None:
    if state is not TransferState.DONE or not row.aip_id:
        return None
    return "preserved" if row.preserved_at is not None else "copies_pending"


def transfer_json(row: IngestTransfer, job: Job | None = None) -> dict[str, Any]:
    state = TransferState(row.state)
    out: dict[str, Any] = {
        "uid": row.uid,
        "source_name": row.source_name,
        "kind": row.kind,
        "stage": row.stage,
        "mode": row.mode,
        "fonds_code": row.fonds_code,
        "category": row.category,
        "state": state.value,
        "state_label": state.label,
        "finished": state.terminal,
        "decision": row.decision,
        "review": row.review,
        "review_reason": row.review_reason,
        "reviewed_by": row.reviewed_by,
        "counts": row.counts,
        "declared": {"items": row.declared_items, "bytes": row.declared_bytes},
        "actual": {"items": row.actual_items, "files": row.actual_files, "bytes": row.actual_bytes},
        "package": {
            "size": row.package_size,
            "sha256": row.package_sha256,
            "sm3": row.package_sm3,
        },
        "register": row.register,
        "aip_id": row.aip_id if state in _STORED else None,
        "record_count": row.record_count,
        "fonds_id": row.fonds_id,
        "error": row.error,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "report": f"/api/transfers/{row.uid}/report.json" if row.decision else None,
        # done ≠ preserved: 已按策略保存 once every copy the storage policy requires is verified
        "preserved_at": row.preserved_at.isoformat() if row.preserved_at else None,
        "preservation": _preservation(state, row),
        "preservation_label": PRESERVATION_LABELS.get(_preservation(state, row) or "", ""),
    }
    if job is not None:
        out["job"] = {
            "id": job.id,
            "state": job.state,
            "state_label": JobState(job.state).label,
            "attempts": job.attempts,
            "progress": job.progress,
            "error": job.error,
        }
    return out


_STORED = {TransferState.STORED, TransferState.CATALOGUED, TransferState.DONE}
