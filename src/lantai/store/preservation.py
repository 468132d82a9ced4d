"""Preservation-action models: destroyed objects (销毁) and format migrations (格式迁移).

``destroyed_objects`` is the authoritative list of preserved objects removed by an approved
销毁, written in the transaction that executes the disposal batch. Every storage location's
package index lists the same objects under ``"destroyed"``; a location that still holds one (it
was unreachable during the execution) has its destruction *completed* from this table by
replication and fixity audits — never repaired back.

``format_migrations`` records one row per preserved file and migration rule: either the
derivative written (package + path + digests, linked to the original ``record_files`` row) or
why nothing was written (no converter, conversion failed) — listed, never a failure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["DestroyedObject", "FormatMigration"]


class DestroyedObject(Base):
    __tablename__ = "destroyed_objects"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    package_id: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    sm3: Mapped[str] = mapped_column(String(64))
    batch_uid: Mapped[str] = mapped_column(String(36))
    item_id: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[int] = mapped_column(BigInteger)
    approved_by: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[str] = mapped_column(String(40))
    destroyed_at: Mapped[str] = mapped_column(String(40))  # the index tombstones' "at"

    __table_args__ = (
        UniqueConstraint("package_id", "path"),
        Index("ix_destroyed_objects_batch_uid", "batch_uid"),
    )


class FormatMigration(Base):
    __tablename__ = "format_migrations"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    record_file_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("record_files.id"))
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    rule: Mapped[str] = mapped_column(String(64))  # the policy rule's name
    # done (derivative stored) | skipped (no converter / kept by policy) | failed (converter erred)
    state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    source_format: Mapped[str | None] = mapped_column(String(100))
    target_format: Mapped[str | None] = mapped_column(String(100))
    derivative_package: Mapped[str | None] = mapped_column(String(64))
    derivative_path: Mapped[str | None] = mapped_column(String(1000))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    sm3: Mapped[str | None] = mapped_column(String(64))
    tool: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("record_file_id", "rule"),
        Index("ix_format_migrations_record_id", "record_id"),
        Index("ix_format_migrations_state", "state"),
    )
