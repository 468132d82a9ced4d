"""Digitisation models (存量数字化): scan batches, their page images, OCR text, linking statistics.

* ``scan_batches``: one imported folder of scans. Its master images are preserved unchanged as one
  immutable object-store package (``package_id``); the QC report and the 挂接 log are kept here.
* ``scan_pages``: one page image of a batch: where its master is (object key + frame of a
  multi-page TIFF/PDF), the 档号 and 页号 read from the file name, the DA/T 46 数字化属性
  (``meta``), the QC findings, and — after 挂接 — the record it belongs to.
* ``scan_page_texts``: the OCR result of one page (per-line text, confidence, box), and its
  corrected text once an archivist fixed it. A page with a row here is not recognised again.
* ``scan_derivatives``: access copies made from masters (searchable PDF per record).
* ``linking_stats``: the 挂接率 per 全宗 / 门类 / 专题库, refreshed by every 挂接 run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["LinkingStat", "ScanBatch", "ScanDerivative", "ScanPage", "ScanPageText"]


class ScanBatch(Base):
    __tablename__ = "scan_batches"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    source_path: Mapped[str] = mapped_column(Text)
    package_id: Mapped[str] = mapped_column(String(64))
    fonds_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("records.id"))
    category: Mapped[str | None] = mapped_column(String(8))
    collection: Mapped[str | None] = mapped_column(String(100))  # 专题库
    profile: Mapped[str] = mapped_column(String(16), default="general")
    process: Mapped[dict[str, Any]] = mapped_column(default=dict)  # device, operator … (sidecar)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    qc: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the QC report (summary + findings)
    linking: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the 原文挂接记录
    ocr: Mapped[dict[str, Any]] = mapped_column(default=dict)  # engine, counts, CER-free summary
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScanPage(Base):
    __tablename__ = "scan_pages"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("scan_batches.id"))
    archival_code: Mapped[str] = mapped_column(String(128))
    page_no: Mapped[int] = mapped_column(Integer)
    source_name: Mapped[str] = mapped_column(Text)  # path inside the batch folder
    object_key: Mapped[str] = mapped_column(Text)  # the master in the object store
    frame: Mapped[int] = mapped_column(Integer, default=0)  # page of a multi-page TIFF/PDF
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    decodes: Mapped[bool] = mapped_column(default=True)
    error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)  # DA/T 46 数字化属性 + process
    phash: Mapped[str | None] = mapped_column(String(64))
    skew: Mapped[float | None] = mapped_column(Float)
    ink: Mapped[float | None] = mapped_column(Float)  # share of dark pixels (blank detection)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    checked: Mapped[bool] = mapped_column(default=False)
    record_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("records.id"))

    __table_args__ = (
        Index(
            "ix_scan_pages_batch_id_archival_code_page_no", "batch_id", "archival_code", "page_no"
        ),
        Index("ix_scan_pages_record_id", "record_id"),
    )


class ScanPageText(Base):
    __tablename__ = "scan_page_texts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    page_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("scan_pages.id"), unique=True)
    engine: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(default=list)  # text, confidence, box
    confidence: Mapped[float] = mapped_column(Float)  # mean over characters
    low_confidence: Mapped[bool] = mapped_column(default=False)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    corrected_text: Mapped[str | None] = mapped_column(Text)
    corrected_by: Mapped[str | None] = mapped_column(String(64))
    corrected_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScanDerivative(Base):
    __tablename__ = "scan_derivatives"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("scan_batches.id"))
    kind: Mapped[str] = mapped_column(String(24))  # searchable_pdf
    object_key: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index(
            "ix_scan_derivatives_record_id_batch_id_kind",
            "record_id",
            "batch_id",
            "kind",
            unique=True,
        ),
    )


class LinkingStat(Base):
    """挂接率 of one scope: ``scope`` is fonds | category | collection, ``value`` its code/name."""

    __tablename__ = "linking_stats"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(100))
    records: Mapped[int] = mapped_column(Integer)  # records that should have images
    linked: Mapped[int] = mapped_column(Integer)  # of those, records with images
    pages: Mapped[int] = mapped_column(Integer)  # linked page images
    ratio: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_linking_stats_scope_value", "scope", "value", unique=True),)
