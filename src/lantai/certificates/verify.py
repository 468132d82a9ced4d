"""Verifying a certificate file against a set of trusted issuer keys — no database needed.

:func:`verify_pdf` is what the public verification page runs on an uploaded file, and what
another archive runs on a certificate issued here (issue 9, 跨馆出证): it needs only the file and
a :class:`KeyRing` (this archive's keys, or a key set exported by another archive with
``lantai certificate keys export`` and read with :meth:`KeyRing.from_json`).

The checks, in order (the first failure decides the :class:`Verdict`):

1. the file is a PDF with a readable LANTAI-CERT-SIG-1 block (:mod:`lantai.certificates.sign`);
2. nothing follows the signed bytes except the increment that carries the block, byte for byte;
3. the digest of the signed bytes equals the digest in the block (**unaltered**);
4. the signing key is in the key ring, of the block's algorithm and issuer, valid at the issue
   time, and the signature over the to-be-signed text verifies (**authentic**).

Revocation is not in the file: :mod:`lantai.certificates.service` adds it from the register.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lantai.certificates.profiles import digest_hex, key_id_for, pem_of, profile, spki_of_pem
from lantai.certificates.sign import BlockError, SignatureBlock, find_block, increment
from lantai.errors import ConfigError

__all__ = ["FileCheck", "KeyRing", "TrustedKey", "Verdict", "parse_time", "verify_pdf"]


class Verdict(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    TAMPERED = "tampered"
    UNKNOWN_ISSUER = "unknown_issuer"
    UNSIGNED = "unsigned"
    NOT_FOUND = "not_found"

    @property
    def label(self) -> str:
        return {
            "valid": "有效",
            "revoked": "已撤销",
            "tampered": "已被篡改",
            "unknown_issuer": "签发者未知",
            "unsigned": "无有效签名",
            "not_found": "查无此证",
        }[self.value]


@dataclass(frozen=True, kw_only=True)
class TrustedKey:
    """A public key trusted to sign certificates of one archive, and when it was in use."""

    key_id: str
    algorithm: str
    public_key: bytes  # SubjectPublicKeyInfo DER
    issuer_name: str
    issuer_code: str
    valid_from: datetime
    valid_until: datetime | None = None
    own: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "public_key_pem": pem_of(self.public_key),
            "issuer_name": self.issuer_name,
            "issuer_code": self.issuer_code,
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until) if self.valid_until else None,
        }


@dataclass
class KeyRing:
    keys: dict[str, TrustedKey] = field(default_factory=dict)

    def get(self, key_id: str) -> TrustedKey | None:
        return self.keys.get(key_id)

    def add(self, key: TrustedKey) -> None:
        self.keys[key.key_id] = key

    def to_json(self) -> dict[str, Any]:
        return {"format": "LANTAI-CERT-KEYS-1", "keys": [k.to_dict() for k in self.keys.values()]}

    @classmethod
    def from_json(cls, doc: dict[str, Any], *, own: bool = False) -> KeyRing:
        """A key set as exported by ``lantai certificate keys export`` (checked: key id = digest)."""
        if not isinstance(doc, dict) or doc.get("format") != "LANTAI-CERT-KEYS-1":
            raise ConfigError("公钥集格式不是 LANTAI-CERT-KEYS-1")
        ring = cls()
        for i, k in enumerate(doc.get("keys") or [], start=1):
            try:
                spki = spki_of_pem(k["public_key_pem"])
                prof = profile(k["algorithm"])
                key = TrustedKey(
                    key_id=k["key_id"],
                    algorithm=prof.algorithm,
                    public_key=spki,
                    issuer_name=k["issuer_name"],
                    issuer_code=k["issuer_code"],
                    valid_from=parse_time(k["valid_from"]),
                    valid_until=parse_time(k["valid_until"]) if k.get("valid_until") else None,
                    own=own,
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"公钥集第 {i} 个公钥不完整或格式错误：{exc}") from None
            if key_id_for(prof, spki) != key.key_id:
                raise ConfigError(f"公钥集第 {i} 个公钥的 key_id 与公钥摘要不符")
            ring.add(key)
        return ring


@dataclass(frozen=True, kw_only=True)
class FileCheck:
    verdict: Verdict
    message: str
    authentic: bool | None  # the signature verifies under a trusted key
    unaltered: bool | None  # the signed bytes are unchanged and nothing was added
    block: SignatureBlock | None = None
    issuer: TrustedKey | None = None


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fail(
    verdict: Verdict, message: str, block: SignatureBlock | None = None, **kw: Any
) -> FileCheck:
    kw.setdefault("authentic", False)
    kw.setdefault("unaltered", False if verdict is Verdict.TAMPERED else None)
    return FileCheck(verdict=verdict, message=message, block=block, **kw)


def verify_pdf(data: bytes, ring: KeyRing) -> FileCheck:
    """Check a certificate file (see the module docstring); never raises on bad input."""
    try:
        block = find_block(data)
    except BlockError as exc:
        return _fail(Verdict.TAMPERED, f"文件已被篡改：{exc}")
    if block is None and not data.startswith(b"%PDF-"):
        return _fail(Verdict.UNSIGNED, "不是 PDF 文件，无法验证")
    if block is None:
        return _fail(
            Verdict.UNSIGNED,
            "文件中找不到电子证明签名块：文件不完整（可能被截断），或不是本系统出具的电子证明",
        )
    n = block.signed_length
    if n <= 0 or n > len(data):
        return _fail(
            Verdict.TAMPERED,
            f"文件已被篡改：签名覆盖 {n} 字节，而文件只有 {len(data)} 字节（被截断）",
            block,
        )
    signed = data[:n]
    try:
        expected = increment(signed, block)
    except BlockError as exc:
        return _fail(Verdict.TAMPERED, f"文件已被篡改：{exc}", block)
    if data[n:] != expected:
        return _fail(
            Verdict.TAMPERED, "文件已被篡改：签名之后的内容被改动，或在签名后追加了内容", block
        )
    try:
        prof = profile(block.algorithm)
    except ConfigError:
        return _fail(Verdict.UNKNOWN_ISSUER, f"签名算法「{block.algorithm}」不受支持", block)
    if key_id_for(prof, block.public_key) != block.key_id:
        return _fail(Verdict.TAMPERED, "文件已被篡改：签名块中的公钥与签名密钥标识不符", block)
    if block.digest_algorithm != prof.digest or digest_hex(prof.digest, signed) != block.digest:
        return _fail(Verdict.TAMPERED, "文件已被篡改：文件内容与签名时的摘要不一致", block)
    key = ring.get(block.key_id)
    if key is None:
        self_signed = prof.verify(block.public_key, block.tbs(), block.signature)
        hint = "文件自带的公钥能验证签名，但" if self_signed else ""
        return _fail(
            Verdict.UNKNOWN_ISSUER,
            f"签发者未知：签名密钥 {block.key_id[:24]}… 不在受信任的签发机构公钥中，"
            f"{hint}无法证明由哪一档案馆签发",
            block,
            unaltered=True,
        )
    if key.algorithm != block.algorithm or key.issuer_code != block.issuer_code:
        return _fail(
            Verdict.TAMPERED, "文件已被篡改：签名块中的算法或签发机构与签名密钥不符", block
        )
    if not prof.verify(key.public_key, block.tbs(), block.signature):
        return _fail(Verdict.TAMPERED, "文件已被篡改：电子签名验证失败", block)
    try:
        issued = parse_time(block.issued_at)
    except ValueError:
        return _fail(Verdict.TAMPERED, "文件已被篡改：签发时间无法解读", block)
    start = key.valid_from.replace(microsecond=0)
    if issued < start or (key.valid_until is not None and issued > key.valid_until):
        return _fail(
            Verdict.UNKNOWN_ISSUER,
            "签名时间不在该签名密钥的启用期内，不能确认为签发机构所签",
            block,
            unaltered=True,
            issuer=key,
        )
    return FileCheck(
        verdict=Verdict.VALID,
        message=f"电子签名有效：由{key.issuer_name}（{key.issuer_code}）签发，文件未被改动",
        authentic=True,
        unaltered=True,
        block=block,
        issuer=key,
    )
