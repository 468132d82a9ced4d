"""Disposal (到期鉴定与销毁) models: batches, their items, the decision of every review round.

A batch (鉴定批次) is a set of records whose 保管期限 has expired; every item gets one decision
per configured round (``disposal_decisions``); the final round's decision is the one executed:
``destroy`` (销毁: content removed, metadata kept, 销毁清册 written) or ``extend`` (延长保管期限
to ``new_retention``). Nothing here is ever deleted; the 销毁清册 files are kept in the object
store as a package of their own (``register_package``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["DisposalBatch", "DisposalDecision", "DisposalItem"]


class DisposalBatch(Base):
    __tablename__ = "disposal_batches"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    # open (rounds under way) → executed (decisions carried out, 清册 stored)
    state: Mapped[str] = mapped_column(String(12), default="open")
    as_of: Mapped[str] = mapped_column(String(10))  # the date expiry was computed for
    rounds: Mapped[list[dict[str, Any]]] = mapped_column(default=list)  # the rounds, as configured
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    executed_by: Mapped[str | None] = mapped_column(String(64))
    executed_at: Mapped[datetime | None] = mapped_column()
    register_package: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DisposalItem(Base):
    __tablename__ = "disposal_items"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("disposal_batches.id"))
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    archival_code: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    retention: Mapped[str] = mapped_column(String(8))  # the retention that expired
    formation_year: Mapped[int] = mapped_column(Integer)
    expiry_year: Mapped[int] = mapped_column(Integer)
    # pending → destroyed | extended (set when the batch is executed)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    new_retention: Mapped[str | None] = mapped_column(String(8))  # when extended
    files: Mapped[int] = mapped_column(Integer, default=0)  # preserved files removed
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    done_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("batch_id", "record_id"),
        Index("ix_disposal_items_record_id", "record_id"),
    )


class DisposalDecision(Base):
    __tablename__ = "disposal_decisions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    item_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("disposal_items.id"))
    round: Mapped[int] = mapped_column(Integer)  # 1-based, as configured in the batch
    decision: Mapped[str] = mapped_column(String(8))  # destroy | extend
    new_retention: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("item_id", "round"),)
