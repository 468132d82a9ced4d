"""Catalogue models: units of description, their closure table and the 档号 counters.

The hierarchy is an adjacency list (``parent_id``) plus a closure table (``record_closure``) for
subtree queries; children are ordered by ``(position, id)`` and paged by keyset on the index
``ix_records_parent_id_position_id``, so the first page of a node with 50,000 children costs the
same as that of a node with five. Records are never deleted: ``lifecycle`` moves to ``withdrawn``
(or, after an approved disposal, ``destroyed`` with the metadata kept).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["COLUMN_KEYS", "CodeCounter", "ImportBatch", "Record", "RecordClosure"]

# Scheme elements stored in their own columns (indexed or used by rules); all other elements of
# the scheme live in ``Record.fields``.
COLUMN_KEYS = frozenset(
    {
        "archival_code",
        "title",
        "responsible",
        "date",
        "year",
        "retention",
        "security_level",
        "open_status",
        "disclosure",
        "doc_number",
        "pages",
        "org_code",
    }
)


class Record(Base):
    """One unit of description: 全宗, 类别, 案卷 or 件."""

    __tablename__ = "records"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    level: Mapped[str] = mapped_column(String(8))
    parent_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("records.id"))
    fonds_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("records.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[str | None] = mapped_column(String(8))
    archival_code: Mapped[str | None] = mapped_column(String(128), unique=True)
    code_rule: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    responsible: Mapped[str | None] = mapped_column(String(1000))
    date: Mapped[str | None] = mapped_column(String(40))
    year: Mapped[int | None] = mapped_column(Integer)
    retention: Mapped[str | None] = mapped_column(String(8))
    security_level: Mapped[str | None] = mapped_column(String(32))
    security_rank: Mapped[int] = mapped_column(Integer, default=0)
    open_status: Mapped[str | None] = mapped_column(String(16))
    disclosure: Mapped[str | None] = mapped_column(String(16))
    doc_number: Mapped[str | None] = mapped_column(String(200))
    pages: Mapped[int | None] = mapped_column(Integer)
    org_code: Mapped[str | None] = mapped_column(String(32))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lifecycle: Mapped[str] = mapped_column(String(12), default="active")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    updated_by: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        Index("ix_records_parent_id_position_id", "parent_id", "position", "id"),
        # Covers the visibility filter so counting a node's visible children reads only the index.
        Index(
            "ix_records_parent_id_lifecycle_security_rank",
            "parent_id",
            "lifecycle",
            "security_rank",
        ),
        Index("ix_records_fonds_id_category_year", "fonds_id", "category", "year"),
        Index("ix_records_level", "level"),
    )

    def value(self, key: str) -> Any:
        """The value of a scheme element, whether stored in a column or in ``fields``."""
        if key in COLUMN_KEYS:
            return getattr(self, key)
        return (self.fields or {}).get(key)

    def values(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in COLUMN_KEYS}
        out.update(self.fields or {})
        return {k: v for k, v in out.items() if v is not None and v != ""}


class RecordClosure(Base):
    """Every (ancestor, descendant) pair, including each record with itself at depth 0."""

    __tablename__ = "record_closure"

    ancestor_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"), primary_key=True)
    descendant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("records.id"), primary_key=True
    )
    depth: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_record_closure_descendant_id_depth", "descendant_id", "depth"),)


class CodeCounter(Base):
    """The last counter value used in one 档号 group (rule id + prefix). Only ever increases."""

    __tablename__ = "code_counters"

    group_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class ImportBatch(Base):
    """One catalogue spreadsheet import attempt, with its row-by-row report."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    filename: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    file_format: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str | None] = mapped_column(String(16))
    fonds_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("records.id"))
    category: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    imported_count: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
