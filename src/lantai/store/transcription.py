"""Speech transcription (语音转写) of audio and video record files.

``asr_items``: one row per audio/video file of a record. ``state`` is ``pending`` (待转写: no
model installed yet, or not run yet), ``done`` (text and timed segments stored; the text is also
the record's full text, source ``asr``) or ``failed`` (the file could not be decoded; error kept).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["AsrItem"]


class AsrItem(Base):
    __tablename__ = "asr_items"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    record_file_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("record_files.id"), unique=True
    )
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    engine: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    # [{"start": s, "end": s, "text": str, "confidence": float | None}, …]
    segments: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    duration: Mapped[float | None] = mapped_column(Float)  # seconds of media
    seconds: Mapped[float | None] = mapped_column(Float)  # seconds spent transcribing
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_asr_items_record_id", "record_id"),
        Index("ix_asr_items_state", "state"),
    )
