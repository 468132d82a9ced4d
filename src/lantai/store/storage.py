"""Replicated storage: the copy ledger, fixity audit runs and alerts.

* ``storage_copies`` — the **ledger**: one row per (package, location) the policy requires, with
  the package digest (SHA-256 of its index, the same in every location), bytes, objects, its
  state and the last fixity verification.
* ``fixity_runs`` — one row per audit of a location (on demand or scheduled) with its counts and
  findings (each mismatch, truncation or missing object, and what was done about it).
* ``alerts`` — operational alerts (storage now; other capabilities may add kinds): an open alert
  has no ``resolved_at``; the same condition seen again bumps ``count``/``last_seen_at``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["Alert", "FixityRun", "StorageCopy"]


class StorageCopy(Base):
    __tablename__ = "storage_copies"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    package_id: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(32))
    # pending (required, not yet copied) → present; damaged (fixity failed, awaiting repair);
    # unrecoverable (no good copy anywhere)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    package_digest: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    objects: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    copied_at: Mapped[datetime | None] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()
    verify_result: Mapped[str | None] = mapped_column(String(16))  # ok | failed | repaired
    verify_detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        UniqueConstraint("package_id", "location"),
        Index("ix_storage_copies_location_state", "location", "state"),
    )


class FixityRun(Base):
    __tablename__ = "fixity_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    location: Mapped[str] = mapped_column(String(32))
    package_id: Mapped[str | None] = mapped_column(String(64))  # only this package, if set
    trigger: Mapped[str] = mapped_column(String(16))  # manual | scheduled
    actor: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default="running")  # running | done | failed
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    packages: Mapped[int] = mapped_column(Integer, default=0)
    objects: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    repaired: Mapped[int] = mapped_column(Integer, default=0)
    unrecoverable: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(default=list)

    __table_args__ = (Index("ix_fixity_runs_location_started_at", "location", "started_at"),)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(12))  # warning | critical
    location: Mapped[str | None] = mapped_column(String(32))
    package_id: Mapped[str | None] = mapped_column(String(64))
    object_key: Mapped[str | None] = mapped_column(String(1000))
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_alerts_resolved_at_created_at", "resolved_at", "created_at"),
        Index("ix_alerts_kind_location_package_id", "kind", "location", "package_id"),
    )
