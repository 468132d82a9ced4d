"""Publication (上网审查) models: batches of 开放 records, per-item decisions, what is published.

* ``publication_batches`` / ``publication_items``: a batch of 开放 records put up for the
  pre-publication review; each item carries its decision (pending / approved / rejected), the
  reviewer, the time and the reason.
* ``published_records``: one row per record that has ever been published, with its state
  (published / unpublished), when and by whom, and the **masked** catalogue values shown to the
  public. ``datestamp`` moves on every change (the OAI-PMH datestamp; unpublished rows are the
  deleted records of the sets).
* ``published_texts``: the masked full texts of a published record, one row per part.

The archival master (``records``, ``record_texts``, files) is never altered by publication.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = [
    "PublicationBatch",
    "PublicationDecision",
    "PublicationItem",
    "PublicationState",
    "PublishedRecord",
    "PublishedText",
]


class PublicationDecision(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return {"pending": "待审查", "approved": "准予上网", "rejected": "不予上网"}[self.value]


class PublicationState(StrEnum):
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"

    @property
    def label(self) -> str:
        return {"published": "已公布", "unpublished": "已撤下"}[self.value]


class PublicationBatch(Base):
    __tablename__ = "publication_batches"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    fonds_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("records.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PublicationItem(Base):
    __tablename__ = "publication_items"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("publication_batches.id"))
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    decision: Mapped[str] = mapped_column(String(12), default=PublicationDecision.PENDING.value)
    reviewer: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    masked_spans: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("batch_id", "record_id"),
        Index("ix_publication_items_record_id", "record_id"),
    )


class PublishedRecord(Base):
    __tablename__ = "published_records"

    record_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("records.id"), primary_key=True, autoincrement=False
    )
    state: Mapped[str] = mapped_column(String(12))
    batch_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("publication_batches.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(64))
    unpublished_at: Mapped[datetime | None] = mapped_column()
    unpublished_by: Mapped[str | None] = mapped_column(String(64))
    unpublish_reason: Mapped[str] = mapped_column(Text, default="")
    datestamp: Mapped[datetime] = mapped_column(default=utcnow)
    title: Mapped[str] = mapped_column(Text)
    responsible: Mapped[str | None] = mapped_column(String(1000))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    masked_spans: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_published_records_state_datestamp", "state", "datestamp"),)


class PublishedText(Base):
    __tablename__ = "published_texts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("published_records.record_id"))
    part: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("record_id", "part"),)
