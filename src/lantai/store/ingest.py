"""Ingest models: transfers and their state machine, resumable uploads, preserved files.

``transfers`` is the 移交接收登记 of the archive: one row per received package, with what the
sender declared, what was actually found, the DA/T 70 decision, the report and the AIP. Its
``state`` only moves forward (see :class:`TransferState`); each move is committed together with
its audit event, which is what makes an ingest resumable after ``kill -9``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["IngestTransfer", "IngestUpload", "RecordFile", "ReviewState", "TransferState"]


class TransferState(StrEnum):
    """Where a transfer is. Only the ingest job moves a transfer forward, one step per commit."""

    RECEIVED = "received"  # row created, package not yet read; the job stages it
    STAGED = "staged"  # unpacked, hashed, identified (snapshot in staging); the job checks it
    CHECKED = "checked"  # DA/T 70 report written, decision taken; the job rejects or accepts
    REJECTED = "rejected"  # terminal: a blocking check failed; report stored, catalogue untouched
    ACCEPTED_PENDING = "accepted_pending"  # accepted; the job builds and stores the AIP
    STORED = "stored"  # AIP stored; the job writes the catalogue in one transaction
    CATALOGUED = "catalogued"  # catalogue rows, files and events committed; the job cleans up
    DONE = "done"  # terminal: staging removed
    FAILED = "failed"  # terminal: the job gave up (error recorded); reconcile removes leftovers

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]

    @property
    def terminal(self) -> bool:
        return self in (TransferState.REJECTED, TransferState.DONE, TransferState.FAILED)


_STATE_LABELS = {
    TransferState.RECEIVED: "已接收",
    TransferState.STAGED: "已解包",
    TransferState.CHECKED: "已检测",
    TransferState.REJECTED: "已拒收",
    TransferState.ACCEPTED_PENDING: "接收中",
    TransferState.STORED: "已保存",
    TransferState.CATALOGUED: "已编目",
    TransferState.DONE: "已完成",
    TransferState.FAILED: "处理失败",
}


class ReviewState(StrEnum):
    NONE = "none"  # nothing to review (accepted cleanly, or rejected)
    PENDING = "pending"  # accepted with flagged items: an archivist must confirm them
    CONFIRMED = "confirmed"  # an archivist confirmed the flagged items (reason recorded)


class IngestTransfer(Base):
    """One received transfer (移交/归档信息包) and its processing state."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(500))
    source_path: Mapped[str] = mapped_column(Text)
    source_owned: Mapped[bool] = mapped_column(default=False)  # an upload we may delete
    stage: Mapped[str] = mapped_column(String(2), default="YJ")
    mode: Mapped[str] = mapped_column(String(8), default="full")
    fonds_code: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(20), default=TransferState.RECEIVED.value)
    decision: Mapped[str | None] = mapped_column(String(16))
    review: Mapped[str] = mapped_column(String(12), default=ReviewState.NONE.value)
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    declared_items: Mapped[int | None] = mapped_column(BigInteger)
    declared_bytes: Mapped[int | None] = mapped_column(BigInteger)
    actual_items: Mapped[int | None] = mapped_column(BigInteger)
    actual_files: Mapped[int | None] = mapped_column(BigInteger)
    actual_bytes: Mapped[int | None] = mapped_column(BigInteger)
    package_size: Mapped[int | None] = mapped_column(BigInteger)
    package_sha256: Mapped[str | None] = mapped_column(String(64))
    package_sm3: Mapped[str | None] = mapped_column(String(64))
    register: Mapped[dict[str, Any]] = mapped_column(default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # findings per status
    report_key: Mapped[str | None] = mapped_column(String(300))
    aip_id: Mapped[str | None] = mapped_column(String(64))
    fonds_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("records.id"))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    # When every copy the storage policy requires was verified (set by the replication job);
    # a transfer is 已完成 at `done`, and 已按策略保存 only once this is set (副本复制中 before).
    preserved_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        # Idempotency keys are the sender's: unique per account, not across agencies.
        UniqueConstraint("created_by", "idempotency_key"),
        Index("ix_transfers_state", "state"),
    )


class IngestUpload(Base):
    """A resumable upload of one package (online transfer API), assembled in staging."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    declared_size: Mapped[int] = mapped_column(BigInteger)
    declared_sha256: Mapped[str] = mapped_column(String(64))
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | complete
    fonds_code: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(8))
    stage: Mapped[str] = mapped_column(String(2), default="YJ")
    sm3: Mapped[str | None] = mapped_column(String(64))
    transfer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("transfers.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("created_by", "idempotency_key"),)


class RecordFile(Base):
    """A preserved file of a catalogued record: where it is (AIP + path) and its digests."""

    __tablename__ = "record_files"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    transfer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("transfers.id"))
    aip_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)  # payload path, as in the AIP's data/ folder
    position: Mapped[int] = mapped_column(Integer, default=0)  # 正文 first
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    sm3: Mapped[str] = mapped_column(String(64))
    puid: Mapped[str | None] = mapped_column(String(64))
    format_name: Mapped[str | None] = mapped_column(String(200))
    mime: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (
        Index("ix_record_files_record_id", "record_id"),
        Index("ix_record_files_transfer_id", "transfer_id"),
    )
