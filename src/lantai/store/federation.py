"""Federation models (issue 9): this archive as a node, its partners, signed messages, 跨馆查档.

* ``federation_node``: this archive's node identity (one row): archive code, name and the base
  URL partners reach it on. The signing key pair is the certificate signing key
  (``certificate_keys``, :mod:`lantai.certificates.keys`): one key system for both.
* ``federation_partners``: partner nodes set up by administrators: archive code, name, base URL
  and the key ids of their trusted public keys (the keys themselves are ``certificate_keys`` rows
  with ``origin = trusted``, so the 受理馆 verifies a partner's certificate with the same key);
  ``offered_keys`` holds keys registered but not yet approved by the 安全保密员.
  ``oai_partner_id`` points at the OAI-PMH endpoint row the registry keeps for harvesting.
* ``federation_outbox``: messages to partners, stored in the transaction that made them and
  retried with back-off until the recipient acknowledges them (store-and-forward).
* ``federation_inbox``: every message id received (idempotent receipt: a second delivery is
  acknowledged and not applied again).
* ``federation_nonces``: nonces of signed requests seen within the clock window (replays).
* ``livelihood_requests``: one 跨馆查档 request as seen by this node (``side`` accepting = 受理馆,
  holding = 协办/出证馆), its state, deadline and, at the 受理馆, the certificate received.
* ``livelihood_steps``: the timeline of a request (every step at either end, with its time).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = [
    "FederationInbox",
    "FederationNode",
    "FederationNonce",
    "FederationOutbox",
    "FederationPartner",
    "LivelihoodRequest",
    "LivelihoodStep",
]


class FederationNode(Base):
    __tablename__ = "federation_node"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    archive_code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FederationPartner(Base):
    __tablename__ = "federation_partners"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    archive_code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(500))
    # keys this node trusts for the partner (``certificate_keys`` rows, origin trusted)
    key_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # keys the partner offered (a LANTAI-CERT-KEYS-1 document) that the 安全保密员 has not yet
    # approved: registering a partner (系统管理员) never makes this node trust a key by itself
    offered_keys: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    oai_partner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("oai_partners.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class FederationOutbox(Base):
    __tablename__ = "federation_outbox"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    recipient: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(40))
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ref: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending|delivered|rejected
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_federation_outbox_state_next", "state", "next_attempt_at"),
        Index("ix_federation_outbox_recipient_id", "recipient", "id"),
    )


class FederationInbox(Base):
    __tablename__ = "federation_inbox"

    message_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sender: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(40))
    body_digest: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(12))  # applied | rejected
    error: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class FederationNonce(Base):
    __tablename__ = "federation_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    sender: Mapped[str] = mapped_column(String(16))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_federation_nonces_seen_at", "seen_at"),)


class LivelihoodRequest(Base):
    __tablename__ = "livelihood_requests"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    side: Mapped[str] = mapped_column(String(10))  # accepting (受理馆) | holding (协办馆)
    accepting_code: Mapped[str] = mapped_column(String(16))
    holding_code: Mapped[str] = mapped_column(String(16))
    record_type: Mapped[str] = mapped_column(String(32))
    applicant_name: Mapped[str] = mapped_column(String(100))
    # the full 居民身份证号 is kept only while the request is open (the 协办馆 searches on it);
    # closing a request replaces it with the masked form
    applicant_id: Mapped[str] = mapped_column(String(32))
    applicant_id_masked: Mapped[str] = mapped_column(String(32))
    applicant_phone: Mapped[str] = mapped_column(String(20), default="")
    purpose: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    citizen_user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(12))
    due_on: Mapped[date | None] = mapped_column(Date)
    due_side: Mapped[str | None] = mapped_column(String(10))
    record_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # 协办馆: confirmed match
    result_note: Mapped[str] = mapped_column(Text, default="")
    certificate_code: Mapped[str | None] = mapped_column(String(16))
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    certificate_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_livelihood_requests_side_state", "side", "state"),
        Index("ix_livelihood_requests_citizen", "citizen_user_id"),
    )


class LivelihoodStep(Base):
    __tablename__ = "livelihood_steps"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    request_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("livelihood_requests.id"))
    state: Mapped[str] = mapped_column(String(12))
    node: Mapped[str] = mapped_column(String(16))  # archive code of the node where it happened
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (Index("ix_livelihood_steps_request_id", "request_id", "id"),)
