"""Reading scan batches: lookup by uid with the read permission, and their JSON form."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lantai.errors import NotFound
from lantai.security import Actor, Perm
from lantai.store import Record, ScanBatch, ScanPage, ScanPageText

__all__ = ["batch_json", "get_batch", "list_batches"]


def get_batch(session: Session, actor: Actor, uid_or_id: str | int) -> ScanBatch:
    actor.require(Perm.DIGITISATION_READ)
    text = str(uid_or_id)
    if isinstance(uid_or_id, int) or (text.isdigit() and len(text) <= 18):  # fits BIGINT
        batch = session.get(ScanBatch, int(uid_or_id))
    else:
        batch = session.scalar(select(ScanBatch).where(ScanBatch.uid == str(uid_or_id)))
    if batch is None:
        raise NotFound(f"扫描批次「{uid_or_id}」不存在")
    return batch


def list_batches(session: Session, actor: Actor, *, limit: int = 100) -> list[ScanBatch]:
    actor.require(Perm.DIGITISATION_READ)
    q = select(ScanBatch).order_by(ScanBatch.id.desc()).limit(limit)
    return list(session.scalars(q))


def batch_json(session: Session, batch: ScanBatch) -> dict[str, Any]:
    fonds = session.get(Record, batch.fonds_id) if batch.fonds_id else None
    ocr_pages = session.scalar(
        select(func.count())
        .select_from(ScanPageText)
        .join(ScanPage, ScanPage.id == ScanPageText.page_id)
        .where(ScanPage.batch_id == batch.id)
    )
    return {
        "uid": batch.uid,
        "id": batch.id,
        "name": batch.name,
        "package_id": batch.package_id,
        "fonds": fonds.archival_code if fonds else None,
        "category": batch.category,
        "collection": batch.collection,
        "profile": batch.profile,
        "process": batch.process,
        "files": batch.file_count,
        "pages": batch.page_count,
        "qc": batch.qc.get("summary") if batch.qc else None,
        "linking": batch.linking.get("summary") if batch.linking else None,
        "ocr": {**(batch.ocr or {}), "pages_done": int(ocr_pages or 0)},
        "created_by": batch.created_by,
        "created_at": batch.created_at.isoformat(),
    }
