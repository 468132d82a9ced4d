"""Certificate models (档案证明 / 档案复制件证明): the register of issued certificates and keys.

* ``certificate_keys``: public keys that sign certificates. ``origin = own`` rows are this
  archive's keys (the private key is a file in the secrets directory, never in the database);
  ``origin = trusted`` rows are other archives' keys imported for 跨馆出证 verification. A key is
  ``active`` (signs new certificates; at most one own key) or ``retired`` (``retired_at`` set: it
  still verifies what it signed before that time).
* ``certificates``: one row per issued certificate: its verification code, kind, what it cites,
  the applicant (name and masked ID number only), the signature block fields, the digest of the
  signed PDF bytes, the final PDF itself (re-download), and its status (valid / revoked).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lantai.store.base import Base, BigIntPK, utcnow

__all__ = ["Certificate", "CertificateKey", "CertificateKind", "CertificateStatus"]


class CertificateKind(StrEnum):
    CERTIFICATE = "certificate"
    CERTIFIED_COPY = "certified_copy"

    @property
    def label(self) -> str:
        return {"certificate": "档案证明", "certified_copy": "档案复制件证明"}[self.value]


class CertificateStatus(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return {"valid": "有效", "revoked": "已撤销"}[self.value]


class CertificateKey(Base):
    __tablename__ = "certificate_keys"

    key_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    origin: Mapped[str] = mapped_column(String(8))  # own | trusted
    algorithm: Mapped[str] = mapped_column(String(32))
    public_key_pem: Mapped[str] = mapped_column(Text)
    issuer_name: Mapped[str] = mapped_column(String(200))
    issuer_code: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(8))  # active | retired
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8), default=CertificateStatus.VALID.value)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    applicant_name: Mapped[str] = mapped_column(String(100))
    applicant_id_masked: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(200))
    request_ref: Mapped[str | None] = mapped_column(String(64))
    issuer_name: Mapped[str] = mapped_column(String(200))
    issuer_code: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(80), ForeignKey("certificate_keys.key_id"))
    algorithm: Mapped[str] = mapped_column(String(32))
    digest_algorithm: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str] = mapped_column(String(64))  # of the signed PDF bytes
    signed_length: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(Text)  # base64
    file_sha256: Mapped[str] = mapped_column(String(64))  # of the whole delivered file
    file_size: Mapped[int] = mapped_column(Integer)
    page_images: Mapped[int] = mapped_column(Integer, default=0)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_certificates_issued_at", "issued_at"),
        Index("ix_certificates_request_ref", "request_ref"),
        Index("ix_certificates_file_sha256", "file_sha256"),
    )
