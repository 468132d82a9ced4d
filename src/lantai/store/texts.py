"""Full texts of records (全文数据库): extracted from born-digital files, OCR of scans, seeds.

One row per (record, part): ``part`` names where the text came from within the record (a file
name, ``第3页``); ``source`` how it was obtained (``extracted``, ``ocr``, ``seed``, ``manual``).
Adding a text appends a ``catalogue:text:added`` event, which is how the search index learns of it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["RecordText"]


class RecordText(Base):
    __tablename__ = "record_texts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    part: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_record_texts_record_id_part", "record_id", "part", unique=True),)
