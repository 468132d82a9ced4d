"""The append-only, hash-chained event log (the audit trail of every change).

Rows are never updated or deleted: database triggers refuse it (see the initial migration),
and ``lantai audit verify`` detects any row that was edited or removed by someone who disabled
them, because every row carries HMAC-SM3(previous hash ‖ row).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base

__all__ = ["Event"]


class Event(Base):
    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_events_object_type_object_id", "object_type", "object_id"),
        Index("ix_events_action", "action"),
        Index("ix_events_actor", "actor"),
    )
