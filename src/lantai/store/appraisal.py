"""开放审核 models: review batches, their items, round tasks, decisions, unit opinions, results.

* ``review_batches`` — one 审核批次 (normally one fonds × 形成年度 × 门类 of the candidates), the
  round it is in (``round_index`` into the ``rounds`` it was created with) and its state.
* ``review_items`` — the review units (案卷, or 件 not in a 案卷) of a batch, with the machine
  pre-screening kept at creation (suggestion, hit count per rule, hits without the matched text).
* ``review_tasks`` — one task per batch and round, assigned to a reviewer or claimed.
* ``review_decisions`` — one row per (batch, round, record): re-deciding replaces the row
  (``revision`` + 1) and the change is an event, so a decision is never duplicated.
* ``review_unit_opinions`` — 形成/移交单位 opinions (档案法第三十条), from the unit's XLSX or
  sent with a transfer.
* ``record_open_reviews`` — the applied result per record: 开放审核日期 and, for 延期开放, the
  re-review date (``review_due``), as real columns (candidates read the date from here).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = [
    "RecordOpenReview",
    "ReviewBatch",
    "ReviewDecision",
    "ReviewItem",
    "ReviewTask",
    "UnitOpinion",
]


class ReviewBatch(Base):
    """One 审核批次: its scope, the rounds it goes through and where it is."""

    __tablename__ = "review_batches"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    fonds_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("records.id"))
    year: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(8))
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)  # how the items were chosen
    unit: Mapped[str | None] = mapped_column(String(200))  # 形成/移交单位 for the joint review
    joint_review: Mapped[bool] = mapped_column(default=True)
    rounds: Mapped[list[dict[str, Any]]] = mapped_column(default=list)  # config snapshot
    round_index: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(12), default="reviewing")  # reviewing | applied
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_by: Mapped[str | None] = mapped_column(String(64))
    applied_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_review_batches_state", "state"),)


class ReviewItem(Base):
    """One review unit of a batch with the machine pre-screening kept at batch creation."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("review_batches.id"))
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    archival_code: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(8))
    suggestion: Mapped[str] = mapped_column(String(16))
    suggestion_reason: Mapped[str] = mapped_column(Text, default="")
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    rule_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hits: Mapped[list[dict[str, Any]]] = mapped_column(default=list)  # without matched text
    result: Mapped[str | None] = mapped_column(String(16))  # applied result
    review_due: Mapped[date | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("batch_id", "record_id"),
        Index("ix_review_items_batch_id_position", "batch_id", "position"),
        Index("ix_review_items_record_id", "record_id"),
    )


class ReviewTask(Base):
    """The work of one round of one batch: who does it (assigned or claimed) and whether done."""

    __tablename__ = "review_tasks"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("review_batches.id"))
    round: Mapped[str] = mapped_column(String(32))
    assignee: Mapped[str | None] = mapped_column(String(64))
    assigned_by: Mapped[str | None] = mapped_column(String(64))
    assigned_at: Mapped[datetime | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | done | skipped
    completed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (UniqueConstraint("batch_id", "round"),)


class ReviewDecision(Base):
    """A reviewer's decision on one item in one round (the latest revision)."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("review_batches.id"))
    item_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("review_items.id"))
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    round: Mapped[str] = mapped_column(String(32))
    reviewer: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    result: Mapped[str] = mapped_column(String(16))
    review_due: Mapped[date | None] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    basis: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        UniqueConstraint("batch_id", "round", "record_id"),
        Index("ix_review_decisions_record_id", "record_id"),
    )


class UnitOpinion(Base):
    """An opinion of the 形成/移交单位 on one record: from its XLSX or sent with a transfer."""

    __tablename__ = "review_unit_opinions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    batch_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("review_batches.id"))
    transfer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("transfers.id"))
    source: Mapped[str] = mapped_column(String(12))  # unit | transfer
    unit: Mapped[str] = mapped_column(String(200))
    opinion: Mapped[str | None] = mapped_column(String(16))  # a result, when one was given
    reason: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str] = mapped_column(Text, default="")  # the opinion as the unit wrote it
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_review_unit_opinions_record_id", "record_id"),)


class RecordOpenReview(Base):
    """The applied 开放审核 result of one record: review date and re-review date (延期开放)."""

    __tablename__ = "record_open_reviews"

    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"), primary_key=True)
    open_status: Mapped[str] = mapped_column(String(16))
    reviewed_on: Mapped[date] = mapped_column()
    review_due: Mapped[date | None] = mapped_column()
    batch_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("review_batches.id"))
    applied_by: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_record_open_reviews_review_due", "review_due"),)
