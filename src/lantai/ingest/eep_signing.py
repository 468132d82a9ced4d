"""EEP electronic signatures (DA/T 48 电子签名 / 锁定签名): signing keys, blocks, verification.

**The signature rule Lantai writes and verifies** (recorded verbatim in ``签名规则``,
:data:`LANTAI_RULE`): the signed element (``被签名对象`` for an 电子签名, the locked ``电子签名``
for a 锁定签名) is canonicalised with W3C Canonical XML 2.0 without comments
(:mod:`lantai.ingest.c14n`); the canonical UTF-8 bytes are hashed with SM3 (SM2 keys) or
SHA-256 (RSA, ECDSA and Ed25519 keys); the 32-byte digest is what the key signs. Signing the
digest rather than the element (as XML-DSig signs its SignedInfo) lets a reader verify a
multi-gigabyte package from the digest it computed while streaming the file once; for SM2 the
digest is the message *M* of GB/T 32918 (with the default signer ID ``1234567812345678``).

``签名算法标识`` holds the OID: SM2-with-SM3 ``1.2.156.10197.1.501``, RSA PKCS#1 v1.5 with
SHA-256 ``1.2.840.113549.1.1.11``, ECDSA with SHA-256 ``1.2.840.10045.4.3.2``, Ed25519
``1.3.101.112``. ``证书`` holds an X.509 certificate (DER) when one is configured, else the
signer's SubjectPublicKeyInfo (DER): the signature then proves integrity, and trust in the key is
an 人工复核 matter (DA/T 70: CA trust is never 通过 without outside evidence).

Public API: :class:`SignatureBlock` (a parsed 电子签名 / 锁定签名, JSON-able through
:meth:`SignatureBlock.to_dict` / :meth:`SignatureBlock.from_dict` — readers store that dict in
``TransferRecord.signatures``), :func:`verify_block` → :class:`Verification`, the signers
:class:`Sm2Signer` (gmssl-pyx) and :class:`KeySigner` (cryptography: RSA, ECDSA P-256, Ed25519),
:func:`load_signer` (a PEM private key, or an SM2 key file) and :func:`generate_sm2_signer`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from lantai.errors import ConfigError

__all__ = [
    "ECDSA_SHA256",
    "ED25519",
    "LANTAI_RULE",
    "RSA_SHA256",
    "SM2_WITH_SM3",
    "KeySigner",
    "SignatureBlock",
    "Signer",
    "Sm2Signer",
    "Verification",
    "generate_sm2_signer",
    "load_signer",
    "verify_block",
]

SM2_WITH_SM3 = "1.2.156.10197.1.501"
RSA_SHA256 = "1.2.840.113549.1.1.11"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
ED25519 = "1.3.101.112"
SM2_CURVE_OID_DER = bytes.fromhex("06082a811ccf5501822d")  # 1.2.156.10197.1.301
SM2_DEFAULT_ID = b"1234567812345678"

LANTAI_RULE = (
    "LANTAI-EEP-SIG-1：被签名元素按 W3C Canonical XML 2.0（不含注释）规范化，"
    "UTF-8 字节取 SM3 摘要（SM2 密钥）或 SHA-256 摘要（RSA/ECDSA/Ed25519 密钥），对 32 字节摘要值签名"
)
_ALGORITHM_NAMES = {
    SM2_WITH_SM3: "SM2-with-SM3",
    RSA_SHA256: "RSA-SHA256",
    ECDSA_SHA256: "ECDSA-SHA256",
    ED25519: "Ed25519",
}


@dataclass(frozen=True, kw_only=True)
class SignatureBlock:
    """One 电子签名 (``kind="signature"``) or 锁定签名 (``kind="lock"``) as found in a package.

    ``layer`` is ``"current"`` for the package's own blocks and ``"original"`` for those kept in
    a 修改型 package's 原封装包. ``signed_sha256`` / ``signed_sm3`` are the digests of the
    canonical form of what the block signs (its layer's 被签名对象, or the locked 电子签名),
    computed by the reader; None when that element was not found.
    """

    kind: Literal["signature", "lock"]
    layer: str
    id: str  # 签名标识符, or for a lock the 被锁定签名标识符 it locks
    rule: str
    algorithm: str
    value: bytes
    certificates: tuple[bytes, ...] = ()
    certificate_refs: tuple[str, ...] = ()
    time: str = ""
    signer: str = ""
    signed_sha256: str | None = None
    signed_sm3: str | None = None
    location: str = ""  # where in the package (for evidence)

    @property
    def algorithm_name(self) -> str:
        return _ALGORITHM_NAMES.get(self.algorithm, self.algorithm)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "layer": self.layer,
            "id": self.id,
            "rule": self.rule,
            "algorithm": self.algorithm,
            "value": base64.b64encode(self.value).decode("ascii"),
            "certificates": [base64.b64encode(c).decode("ascii") for c in self.certificates],
            "certificate_refs": list(self.certificate_refs),
            "time": self.time,
            "signer": self.signer,
            "signed_sha256": self.signed_sha256,
            "signed_sm3": self.signed_sm3,
            "location": self.location,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SignatureBlock:
        return cls(
            kind=d["kind"],
            layer=d.get("layer", "current"),
            id=d.get("id", ""),
            rule=d.get("rule", ""),
            algorithm=d.get("algorithm", ""),
            value=_b64(d.get("value", "")),
            certificates=tuple(_b64(c) for c in d.get("certificates", ())),
            certificate_refs=tuple(d.get("certificate_refs", ())),
            time=d.get("time", ""),
            signer=d.get("signer", ""),
            signed_sha256=d.get("signed_sha256"),
            signed_sm3=d.get("signed_sm3"),
            location=d.get("location", ""),
        )


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return b""


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying one block.

    ``status``: ``"valid"`` (the signature verifies with the key in the block), ``"invalid"``
    (it does not: the signed element or the signature was changed), ``"unknown"`` (the rule or
    algorithm is not one Lantai can check, or the key is missing: 人工复核).
    """

    status: Literal["valid", "invalid", "unknown"]
    message: str
    details: dict[str, str] = field(default_factory=dict)


def verify_block(block: SignatureBlock) -> Verification:
    """Verify ``block`` under :data:`LANTAI_RULE` with the first key found in its 证书."""
    if not block.rule.startswith("LANTAI-EEP-SIG-1"):
        return Verification(
            "unknown",
            f"签名规则「{block.rule[:60]}」不是本系统可自动验证的规则，须人工复核",
        )
    if not block.value:
        return Verification("invalid", "签名结果为空或不是有效的 Base64")
    if not block.certificates:
        return Verification("unknown", "签名块中没有证书或公钥，无法验证，须人工复核")
    sm2 = block.algorithm == SM2_WITH_SM3
    digest_hex = block.signed_sm3 if sm2 else block.signed_sha256
    if digest_hex is None:
        return Verification("invalid", "未找到被签名的元素，无法验证")
    digest = bytes.fromhex(digest_hex)
    details = {"digest": digest_hex, "algorithm": block.algorithm_name}
    try:
        ok = _verify(block.algorithm, block.certificates[0], digest, block.value)
    except _Unverifiable as exc:
        return Verification("unknown", str(exc), details)
    if ok:
        return Verification("valid", f"{block.algorithm_name} 签名验证通过", details)
    return Verification(
        "invalid", f"{block.algorithm_name} 签名验证失败：被签名内容或签名已被改动", details
    )


class _Unverifiable(Exception):
    pass


def _verify(algorithm: str, cert: bytes, digest: bytes, value: bytes) -> bool:
    if algorithm == SM2_WITH_SM3:
        point = sm2_public_point(cert)
        if point is None:
            raise _Unverifiable("证书中没有 SM2 公钥，无法验证")
        gm = _gmssl()
        with _quiet_stderr():
            return bool(gm.sm2_verify(point, digest, value, SM2_DEFAULT_ID))
    key = _public_key(cert)
    try:
        if algorithm == RSA_SHA256 and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, digest, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == ECDSA_SHA256 and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(value, digest, ec.ECDSA(hashes.SHA256()))
        elif algorithm == ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(value, digest)
        else:
            raise _Unverifiable(f"签名算法标识「{algorithm}」与证书中的密钥类型不符或不受支持")
    except InvalidSignature:
        return False
    return True


def _public_key(der: bytes) -> Any:
    try:
        return x509.load_der_x509_certificate(der).public_key()
    except (ValueError, UnsupportedAlgorithm):
        pass
    try:
        return serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _Unverifiable(f"无法读取证书中的公钥：{exc}") from None


def sm2_public_point(der: bytes) -> bytes | None:
    """The 64-byte SM2 public point (X‖Y) inside a certificate or SubjectPublicKeyInfo."""
    at = der.find(SM2_CURVE_OID_DER)
    if at < 0:
        return None
    m = re.compile(rb"\x03\x42\x00\x04(.{64})", re.S).search(der, at)
    return m.group(1) if m else None


def sm2_spki(point: bytes) -> bytes:
    """SubjectPublicKeyInfo DER of an SM2 public point (X‖Y, 64 bytes)."""
    alg = bytes.fromhex("301306072a8648ce3d0201") + SM2_CURVE_OID_DER
    bits = b"\x03\x42\x00\x04" + point
    body = alg + bits
    return b"\x30" + bytes([len(body)]) + body


@contextlib.contextmanager
def _quiet_stderr() -> Any:
    """GmSSL prints a trace to fd 2 on every failed verification; keep the logs clean."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _gmssl() -> Any:
    try:
        import gmssl_pyx  # type: ignore[import-untyped]
    except ImportError:
        raise _Unverifiable("未安装 SM2 组件（gmssl-pyx），无法验证 SM2 签名") from None
    return gmssl_pyx


# -- signers --------------------------------------------------------------------------------------


class Signer(Protocol):
    """A key that signs EEP packages under :data:`LANTAI_RULE`."""

    @property
    def algorithm(self) -> str:
        """The OID written to 签名算法标识."""

    @property
    def digest(self) -> Literal["sm3", "sha256"]:
        """Which digest of the canonical element gets signed."""

    @property
    def name(self) -> str:
        """签名人."""

    def sign(self, digest: bytes) -> bytes: ...

    def certificates(self) -> list[bytes]: ...


@dataclass(frozen=True)
class Sm2Signer:
    """SM2 (GB/T 32918) via gmssl-pyx; 证书 carries the SubjectPublicKeyInfo."""

    private_key: bytes  # 32 bytes
    public_key: bytes  # 64 bytes, X‖Y
    name: str
    algorithm: str = SM2_WITH_SM3
    digest: Literal["sm3", "sha256"] = "sm3"

    def sign(self, digest: bytes) -> bytes:
        return bytes(_gmssl().sm2_sign(self.private_key, self.public_key, digest, SM2_DEFAULT_ID))

    def certificates(self) -> list[bytes]:
        return [sm2_spki(self.public_key)]


@dataclass(frozen=True)
class KeySigner:
    """RSA (PKCS#1 v1.5, SHA-256), ECDSA P-256 or Ed25519 via cryptography."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    name: str
    certificate: x509.Certificate | None = None
    digest: Literal["sm3", "sha256"] = "sha256"

    @property
    def algorithm(self) -> str:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return RSA_SHA256
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return ECDSA_SHA256
        return ED25519

    def sign(self, digest: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(digest, padding.PKCS1v15(), hashes.SHA256())
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(digest, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(digest)

    def certificates(self) -> list[bytes]:
        if self.certificate is not None:
            return [self.certificate.public_bytes(serialization.Encoding.DER)]
        return [
            self.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ]


def generate_sm2_signer(name: str) -> Sm2Signer:
    """A fresh SM2 key pair (for tests and first-time setup)."""
    public, private = _gmssl().sm2_key_generate()
    return Sm2Signer(private_key=bytes(private), public_key=bytes(public), name=name)


def load_signer(path: Path, *, name: str, certificate: Path | None = None) -> Signer:
    """The signing key in ``path``.

    - a PEM private key (RSA, EC P-256 or Ed25519; unencrypted), optionally with a PEM
      certificate file;
    - an SM2 key file of ``key: value`` lines: ``algorithm: SM2``, ``private_key: <64 hex>``,
      ``public_key: <128 hex>`` (as ``gmssl-pyx`` generates them).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"无法读取签名密钥文件「{path}」：{exc.strerror or exc}") from None
    if b"-----BEGIN" in raw:
        try:
            key = serialization.load_pem_private_key(raw, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ConfigError(f"签名密钥文件「{path}」不是可用的 PEM 私钥：{exc}") from None
        if not isinstance(
            key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        ):
            raise ConfigError(
                f"签名密钥文件「{path}」的密钥类型不受支持（可用 SM2、RSA、EC、Ed25519）"
            )
        cert = None
        if certificate is not None:
            cert = x509.load_pem_x509_certificate(certificate.read_bytes())
        return KeySigner(key=key, name=name, certificate=cert)
    fields: dict[str, str] = {}
    for line in io.StringIO(raw.decode("utf-8", "replace")):
        k, sep, v = line.partition(":")
        if sep:
            fields[k.strip().lower()] = v.strip()
    if fields.get("algorithm", "").upper() != "SM2":
        raise ConfigError(f"签名密钥文件「{path}」既不是 PEM 私钥，也不是 SM2 密钥文件")
    try:
        private, public = bytes.fromhex(fields["private_key"]), bytes.fromhex(fields["public_key"])
    except (KeyError, ValueError):
        raise ConfigError(f"SM2 密钥文件「{path}」缺少或写错 private_key / public_key") from None
    if len(private) != 32 or len(public) not in (64, 65):
        raise ConfigError(f"SM2 密钥文件「{path}」的密钥长度不对（私钥 32 字节，公钥 64 字节）")
    return Sm2Signer(private_key=private, public_key=public[-64:], name=name)
