"""Restorability test of a backup (DA/T 70 BC-3-4): restore into a scratch instance and compare.

``verify_backup`` checks the set's files against its manifest and the manifest against the ledger
(a replaced manifest is caught), restores the set into a scratch instance — a temporary home with
SQLite, or for a PostgreSQL backup a scratch database created on the same server and dropped
afterwards — and compares the audit chain head, counts and catalogue digests (and with content,
every preserved file) with the manifest. The result is a ``backup_verifications`` row, the
backup's ``verified_at``/``verified_ok`` and a ``backup:set:verified`` event (outcome failure when
it did not restore or did not match). The job kind ``backup.verify`` runs it in the background.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.audit import EventType
from lantai.audit.events import Outcome
from lantai.backup import pg
from lantai.backup.manifest import check_files, manifest_sha256, read_manifest
from lantai.backup.restore import restore_backup
from lantai.errors import LantaiError, NotFound
from lantai.security import Actor, Perm
from lantai.settings import Settings
from lantai.store import Backup, BackupVerification

if TYPE_CHECKING:
    from lantai.instance import Instance
    from lantai.jobs import JobContext, JobRegistry

__all__ = ["JOB_KIND", "find_backup", "register", "verify_backup"]

JOB_KIND = "backup.verify"


def find_backup(session: Session, ref: str) -> Backup:
    """A registered backup by uid (or its first 8 characters), path, or ``latest``."""
    if ref == "latest":
        row = session.scalar(select(Backup).order_by(Backup.created_at.desc(), Backup.id.desc()))
    else:
        row = session.scalar(select(Backup).where(Backup.uid == ref))
        if row is None and len(ref) >= 8:
            row = session.scalar(select(Backup).where(Backup.uid.startswith(ref)))
        if row is None:
            path = str(Path(ref).expanduser().resolve())
            row = session.scalar(select(Backup).where(Backup.path == path))
    if row is None:
        raise NotFound(f"备份「{ref}」未在备份登记中")
    return row


def _scratch_restore(inst: Instance, path: Path, database: str) -> dict[str, Any]:
    base = inst.settings.staging_dir
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="restore-test-", dir=base))
    try:
        home = tmp / "home"
        if database == "postgresql":
            with pg.scratch_database(inst.db.engine) as url:
                report = restore_backup(
                    path,
                    Settings(home=home, database_url=url, config_dir=None),
                    record_event=False,
                )
        else:
            report = restore_backup(
                path, Settings(home=home, database_url="", config_dir=None), record_event=False
            )
        return report.to_dict()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def verify_backup(
    inst: Instance, ref: str, actor: Actor, *, job_id: int | None = None
) -> BackupVerification:
    actor.require(Perm.SYSTEM_BACKUP)
    with inst.db.read() as s:
        backup = find_backup(s, ref)
    started = datetime.now(UTC)
    path = Path(backup.path)
    detail: dict[str, Any] = {"path": str(path), "problems": []}
    problems: list[str] = detail["problems"]
    try:
        doc = read_manifest(path)
        if manifest_sha256(path) != backup.manifest_sha256:
            problems.append("备份清单 manifest.json 与登记时的摘要不符：清单已被替换或改动")
        problems += [str(p) for p in check_files(path, doc)[:50]]
        if not problems:
            restored = _scratch_restore(inst, path, doc["database"])
            problems += restored["problems"]
            detail["facts"] = restored["facts"]
            detail["files_checked"] = restored["files_checked"]
            detail["expected"] = doc["facts"]
    except LantaiError as exc:
        problems.append(exc.message)
        problems += [str(p) for p in exc.problems[:50]]
    ok = not problems
    finished = datetime.now(UTC)
    detail["seconds"] = round((finished - started).total_seconds(), 3)
    with inst.db.write() as s:
        row = BackupVerification(
            backup_id=backup.id,
            ok=ok,
            detail=detail,
            job_id=job_id,
            verified_by=actor.username,
            started_at=started,
            finished_at=finished,
        )
        s.add(row)
        live = s.get(Backup, backup.id)
        assert live is not None
        live.verified_at = finished
        live.verified_ok = ok
        s.flush()
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.BACKUP_SET_VERIFIED,
            object_type="backup",
            object_id=backup.uid,
            outcome=Outcome.SUCCESS if ok else Outcome.FAILURE,
            detail={
                "verification": row.id,
                "ok": ok,
                "problems": problems[:20],
                "seconds": detail["seconds"],
                "job": job_id,
            },
        )
    return row


def _run_job(ctx: JobContext) -> None:
    from lantai.jobs import PermanentJobError

    actor = Actor(
        username="system:backup-verify", display_name="备份可恢复性检测作业", is_operator=True
    )
    ctx.progress("restore", force=True)
    try:
        verify_backup(ctx.inst, str(ctx.params.get("backup", "latest")), actor, job_id=ctx.job_id)
    except NotFound as exc:
        raise PermanentJobError(exc.message) from None


def register(registry: JobRegistry) -> None:
    from lantai.jobs import JobKind

    registry.add(JobKind(name=JOB_KIND, run=_run_job, max_attempts=2, retry_seconds=60.0))
