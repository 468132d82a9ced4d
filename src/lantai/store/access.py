"""Public use of the archives (档案利用): citizens, requests, grants, reading-room bookings, 利用登记.

* ``citizens``: the real-name profile of a portal account (a ``users`` row holding only the
  ``citizen`` role). The 居民身份证号 is never stored: only a keyed hash (for "one account per
  person") and a masked form for display.
* ``access_requests``: an application to use 控制 records, to get copies (复制) or a certificate
  (出具证明): purpose, user type, what is wanted, the staff decision and its reason, and the
  code of the certificate issued on approval of a 出具证明 / 复制 request (migration 0016).
* ``access_grants``: what an approved request allows: one record, one account, until a time.
* ``reading_slot_loads``: the number of bookings per reading-room slot (the capacity check is one
  conditional UPDATE on this row, so concurrent bookings cannot overbook).
* ``reading_appointments``: one booking of a slot.
* ``use_log``: 利用登记 — one row per use (view, download, visit, copy, certificate) of a record by
  a person on a day: the source of 人次 and 卷（件）次 in the annual statistics.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = [
    "AccessGrant",
    "AccessRequest",
    "Citizen",
    "ReadingAppointment",
    "ReadingSlotLoad",
    "UseLog",
]


class Citizen(Base):
    __tablename__ = "citizens"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    real_name: Mapped[str] = mapped_column(String(100))
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC-SHA256, key in secrets/
    id_masked: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(20))
    user_type: Mapped[str] = mapped_column(String(8), default="个人")  # 个人 | 单位
    unit_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessRequest(Base):
    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # 查阅 | 复制 | 出具证明
    purpose: Mapped[str] = mapped_column(String(16))
    user_type: Mapped[str] = mapped_column(String(8))
    unit_name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text)
    archival_codes: Mapped[list[str]] = mapped_column(
        JSON, default=list
    )  # as the applicant wrote them
    record_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # published records picked
    pages: Mapped[str] = mapped_column(String(100), default="")  # 页码范围 for copies/certificates
    status: Mapped[str] = mapped_column(String(12), default="submitted")
    reviewer: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime | None] = mapped_column()
    # the 档案证明 / 档案复制件证明 issued on approval of a 出具证明 / 复制 request (at most one)
    certificate_code: Mapped[str | None] = mapped_column(
        String(16), ForeignKey("certificates.code"), unique=True
    )
    # the applicant's idempotency key (the portal form's hidden token, the API's Idempotency-Key):
    # the same key again returns this request instead of making a second one
    submission_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_access_requests_user_id", "user_id"),
        Index("ix_access_requests_status_created_at", "status", "created_at"),
        # NULL keys (no key given) are distinct in a unique index on SQLite and PostgreSQL
        Index(
            "ix_access_requests_user_id_submission_key", "user_id", "submission_key", unique=True
        ),
    )


class AccessGrant(Base):
    __tablename__ = "access_grants"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    request_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("access_requests.id"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id"))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_access_grants_user_id_record_id", "user_id", "record_id"),)


class ReadingSlotLoad(Base):
    __tablename__ = "reading_slot_loads"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    slot: Mapped[str] = mapped_column(String(16), primary_key=True)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class ReadingAppointment(Base):
    __tablename__ = "reading_appointments"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("access_requests.id"))
    status: Mapped[str] = mapped_column(String(12), default="booked")  # booked|cancelled|visited
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_reading_appointments_day_slot", "day", "slot"),
        Index("ix_reading_appointments_user_id", "user_id"),
    )


class UseLog(Base):
    __tablename__ = "use_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    day: Mapped[date] = mapped_column(Date)
    person: Mapped[str] = mapped_column(String(80))  # user:<id> or visitor:<session hash>
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    user_type: Mapped[str] = mapped_column(String(8))  # 个人 | 单位
    purpose: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))  # 网上 | 到馆
    kind: Mapped[str] = mapped_column(String(16))  # view|download|visit|copy|certificate
    record_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("records.id"))
    request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("access_requests.id"))
    pages: Mapped[int] = mapped_column(Integer, default=0)  # copies: pages copied
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        Index("ix_use_log_day", "day"),
        Index("ix_use_log_person_day_record_id_kind", "person", "day", "record_id", "kind"),
    )
