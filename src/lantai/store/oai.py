"""OAI-PMH models: partner endpoints, harvest runs and the union catalogue (联合目录).

* ``oai_partners``: the OAI-PMH endpoints of partner archives that are harvested (name, 档案馆代码,
  base URL, optional set). The node registry of issue 9 (keys for signed requests) supersedes the
  identity part later; a partner row then points at its node.
* ``oai_harvests``: one row per harvest run: source, parameters, outcome, counts, the last
  datestamp seen (the next incremental harvest starts there) and every problem in zh-CN.
* ``union_records``: one row per (source, OAI identifier): the latest datestamp, deleted flag,
  Dublin Core values, a folded search text and the raw ``<record>`` XML as received.

The index on ``published_records (datestamp, record_id)`` is the keyset the provider pages on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow
from lantai.store.publication import PublishedRecord

__all__ = ["HarvestRun", "OaiPartner", "UnionRecord"]


class OaiPartner(Base):
    __tablename__ = "oai_partners"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    archive_code: Mapped[str] = mapped_column(String(16), default="")
    base_url: Mapped[str] = mapped_column(String(500))
    set_spec: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HarvestRun(Base):
    __tablename__ = "oai_harvests"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(500))
    set_spec: Mapped[str | None] = mapped_column(String(200))
    from_date: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(12))  # running / ok / partial / failed
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    pages: Mapped[int] = mapped_column(Integer, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    last_datestamp: Mapped[str | None] = mapped_column(String(32))
    problems: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_oai_harvests_source_started", "source", "started_at"),)


class UnionRecord(Base):
    __tablename__ = "union_records"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    identifier: Mapped[str] = mapped_column(String(500))
    datestamp: Mapped[str] = mapped_column(String(32))  # as the source sent it (day or second)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    set_specs: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"sets": [...]}
    title: Mapped[str] = mapped_column(Text, default="")
    dc: Mapped[dict[str, Any]] = mapped_column(default=dict)  # element → [values]
    search_text: Mapped[str] = mapped_column(Text, default="")  # folded (simplified, half-width)
    raw_xml: Mapped[str] = mapped_column(Text, default="")
    harvest_id: Mapped[int | None] = mapped_column(BigInteger)
    harvested_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("source", "identifier"),
        Index("ix_union_records_source_datestamp", "source", "datestamp"),
    )


# The provider's keyset (datestamp, record_id) over published_records: pages of ListRecords cost
# the same at the millionth record as at the first.
Index("ix_published_records_datestamp_id", PublishedRecord.datestamp, PublishedRecord.record_id)
