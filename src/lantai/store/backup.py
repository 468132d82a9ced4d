"""Backup ledger: every backup set made by ``lantai backup create`` and every restorability test.

A backup set is a directory (see :mod:`lantai.backup.create`); its row here records where it
is, what it holds (counts, audit chain head, digest of its manifest) and the outcome of its last
restorability test (DA/T 70 BC-3-4). Each test is a row of ``backup_verifications``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["Backup", "BackupVerification"]


class Backup(Base):
    __tablename__ = "backups"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    database: Mapped[str] = mapped_column(String(16))  # sqlite | postgresql
    path: Mapped[str] = mapped_column(Text)
    with_content: Mapped[bool] = mapped_column(default=False)
    files: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column()
    verified_ok: Mapped[bool | None] = mapped_column()


class BackupVerification(Base):
    """One restorability test of a backup: restored into a scratch instance and compared."""

    __tablename__ = "backup_verifications"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    backup_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("backups.id"))
    ok: Mapped[bool] = mapped_column()
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    verified_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_backup_verifications_backup_id", "backup_id"),)
