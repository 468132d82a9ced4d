"""Dashboard models: the maintained holdings summary and the follower's cursor.

``dashboard_holdings`` is the catalogue counted once per combination of the dimensions the
dashboard and the annual statistics group by. Rows belong to a *partition* (全宗, 门类, 年度);
the follower (:mod:`lantai.dashboard.aggregates`) recomputes a partition from the records when
an event touches it, and adds newly created records as deltas, so the dashboard reads a few
hundred summary rows instead of the whole catalogue. ``dashboard_partitions`` remembers up to
which event each partition was recomputed; ``dashboard_transitions`` keeps the dated acts read
from the event log (a record opened), which no record column remembers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["DashboardCursor", "DashboardHolding", "DashboardPartition", "DashboardTransition"]


class DashboardHolding(Base):
    """Counts and sums of the records sharing one value of every dimension.

    Absent values are stored as sentinels (``fonds_id`` 0, ``year`` 0, empty strings) so that the
    unique key works the same on SQLite and PostgreSQL.
    """

    __tablename__ = "dashboard_holdings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    fonds_id: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str] = mapped_column(String(8))
    year: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(12))  # fonds | series | file | item | file_item
    lifecycle: Mapped[str] = mapped_column(String(12))
    open_status: Mapped[str] = mapped_column(String(16))
    carrier: Mapped[str] = mapped_column(String(32))
    generation: Mapped[str] = mapped_column(String(16))
    created_year: Mapped[int] = mapped_column(Integer)
    published_year: Mapped[int] = mapped_column(Integer, default=0)  # 上网公布 (0: not online)
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    digitised: Mapped[int] = mapped_column(BigInteger, default=0)  # records with ≥ 1 file
    files: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    pages: Mapped[int] = mapped_column(BigInteger, default=0)
    minutes: Mapped[int] = mapped_column(BigInteger, default=0)
    scanned: Mapped[int] = mapped_column(BigInteger, default=0)  # records with ≥ 1 scan page
    frames: Mapped[int] = mapped_column(BigInteger, default=0)  # linked scan pages (画幅)

    __table_args__ = (
        Index(
            "ix_dashboard_holdings_dims",
            "fonds_id",
            "category",
            "year",
            "unit",
            "lifecycle",
            "open_status",
            "carrier",
            "generation",
            "created_year",
            "published_year",
            unique=True,
        ),
    )


class DashboardPartition(Base):
    """One (全宗, 门类, 年度) partition: the event sequence it was last recomputed at."""

    __tablename__ = "dashboard_partitions"

    fonds_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    as_of_seq: Mapped[int] = mapped_column(BigInteger)


class DashboardCursor(Base):
    """The last event applied to the summary (one row, ``name`` = ``holdings``)."""

    __tablename__ = "dashboard_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DashboardTransition(Base):
    """A dated act on a record read from the event log (``kind`` = ``opened``)."""

    __tablename__ = "dashboard_transitions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(BigInteger)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_dashboard_transitions_kind_year_record_id", "kind", "year", "record_id"),
        Index(
            "ix_dashboard_transitions_seq_record_id_kind", "seq", "record_id", "kind", unique=True
        ),
    )
