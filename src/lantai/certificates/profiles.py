"""Signing profiles: which key type signs certificates and which digest covers the PDF bytes.

A profile is data: its name (the setting ``LANTAI_CERTIFICATE_PROFILE``), the signature algorithm,
the digest of the signed bytes (and of the public key, for the key id) and how a key pair is
made, serialised, used and checked.

* ``sm2`` (default): SM2 (GB/T 32918) with SM3, signer ID ``1234567812345678``, via gmssl-pyx;
  the signature is DER. ``openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:…`` checks it.
* ``ed25519``: Ed25519 (RFC 8032) via cryptography; digests SHA-256.
* ``rsa3072``: RSA-3072, PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt; digests SHA-256.

What is signed is always a short ASCII text (:func:`lantai.certificates.sign.tbs_text`), so the
same bytes can be checked with the OpenSSL command line (docs/certificates.md).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from lantai.crypto.digest import new_sm3
from lantai.errors import ConfigError

__all__ = [
    "PROFILES",
    "KeyPair",
    "Profile",
    "ProfileName",
    "digest_hex",
    "key_id_for",
    "pem_of",
    "profile",
    "spki_of_pem",
]

ProfileName = Literal["sm2", "ed25519", "rsa3072"]
SM2_SIGNER_ID = b"1234567812345678"
_SM2_CURVE_OID_DER = bytes.fromhex("06082a811ccf5501822d")  # 1.2.156.10197.1.301
_EC_PUBLIC_KEY_OID_DER = bytes.fromhex("06072a8648ce3d0201")
_RSA_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


@dataclass(frozen=True)
class KeyPair:
    """A profile's key pair: ``private`` is the profile's own serialisation (never leaves secrets)."""

    profile: ProfileName
    private: bytes
    public_spki: bytes  # SubjectPublicKeyInfo, DER


@dataclass(frozen=True)
class Profile:
    name: ProfileName
    algorithm: str  # the name written into the signature block
    oid: str
    digest: Literal["sm3", "sha256"]
    label: str

    # -- keys -------------------------------------------------------------------------------

    def generate(self) -> KeyPair:
        if self.name == "sm2":
            public, private = _gmssl().sm2_key_generate()
            return KeyPair(
                self.name,
                _sm2_private_text(bytes(private), bytes(public)),
                _sm2_spki(bytes(public)),
            )
        key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
        key = (
            ed25519.Ed25519PrivateKey.generate()
            if self.name == "ed25519"
            else rsa.generate_private_key(65537, 3072)
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return KeyPair(self.name, pem, spki)

    def sign(self, private: bytes, message: bytes) -> bytes:
        if self.name == "sm2":
            secret, public = _sm2_parse_private(private)
            return bytes(_gmssl().sm2_sign(secret, public, message, SM2_SIGNER_ID))
        # our own key from the secrets directory: skip the slow RSA consistency check
        key = serialization.load_pem_private_key(
            private, password=None, unsafe_skip_rsa_key_validation=True
        )
        if self.name == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(message)
        if self.name == "rsa3072" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, _RSA_PSS, hashes.SHA256())
        raise ConfigError(f"证明签名私钥的类型与签名方案「{self.name}」不符")

    def verify(self, public_spki: bytes, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` over ``message`` verifies under the public key."""
        if self.name == "sm2":
            point = sm2_point(public_spki)
            if point is None:
                return False
            with _quiet_stderr():
                try:
                    return bool(_gmssl().sm2_verify(point, message, signature, SM2_SIGNER_ID))
                except Exception:
                    return False
        try:
            key = serialization.load_der_public_key(public_spki)
        except (ValueError, UnsupportedAlgorithm):
            return False
        try:
            if self.name == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, message)
                return True
            if self.name == "rsa3072" and isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, message, _RSA_PSS, hashes.SHA256())
                return True
        except InvalidSignature:
            return False
        return False


PROFILES: dict[str, Profile] = {
    "sm2": Profile("sm2", "SM2-with-SM3", "1.2.156.10197.1.501", "sm3", "SM2/SM3（国密）"),
    "ed25519": Profile("ed25519", "Ed25519", "1.3.101.112", "sha256", "Ed25519/SHA-256"),
    "rsa3072": Profile(
        "rsa3072", "RSA-PSS-SHA256", "1.2.840.113549.1.1.10", "sha256", "RSA-3072 PSS/SHA-256"
    ),
}
_BY_ALGORITHM = {p.algorithm: p for p in PROFILES.values()}


def profile(name: str) -> Profile:
    """The profile called ``name``, or the one whose algorithm is ``name``."""
    found = PROFILES.get(name) or _BY_ALGORITHM.get(name)
    if found is None:
        raise ConfigError(
            f"证明签名方案「{name}」不受支持（可用：{'、'.join(PROFILES)}；设置 LANTAI_CERTIFICATE_PROFILE）"
        )
    return found


def digest_hex(algorithm: str, data: bytes) -> str:
    if algorithm == "sm3":
        h = new_sm3()
        h.update(data)
        return h.hexdigest()
    return hashlib.sha256(data).hexdigest()


def key_id_for(prof: Profile, public_spki: bytes) -> str:
    """The key id: ``<digest>:<hex digest of the SubjectPublicKeyInfo DER>``."""
    return f"{prof.digest}:{digest_hex(prof.digest, public_spki)}"


def pem_of(spki: bytes) -> str:
    body = base64.encodebytes(spki).decode("ascii")
    return f"-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n"


def spki_of_pem(pem: str) -> bytes:
    body = re.sub(r"-----[A-Z ]+-----", "", pem)
    return base64.b64decode("".join(body.split()))


# -- SM2 details -------------------------------------------------------------------------------


def _gmssl() -> Any:
    try:
        import gmssl_pyx  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a declared dependency
        raise ConfigError("未安装 SM2 组件（gmssl-pyx），无法使用 SM2 签名方案") from None
    return gmssl_pyx


def _sm2_spki(point: bytes) -> bytes:
    """SubjectPublicKeyInfo DER of an SM2 public point (X‖Y, 64 bytes)."""
    alg = b"\x30\x13" + _EC_PUBLIC_KEY_OID_DER + _SM2_CURVE_OID_DER
    body = alg + b"\x03\x42\x00\x04" + point
    return b"\x30" + bytes([len(body)]) + body


def sm2_point(spki: bytes) -> bytes | None:
    """The 64-byte public point (X‖Y) of an SM2 SubjectPublicKeyInfo, or None if it is not one."""
    if _SM2_CURVE_OID_DER not in spki:
        return None
    m = re.search(rb"\x03\x42\x00\x04(.{64})\Z", spki, re.S)
    return m.group(1) if m else None


def _sm2_private_text(secret: bytes, public: bytes) -> bytes:
    return f"algorithm: SM2\nprivate_key: {secret.hex()}\npublic_key: {public.hex()}\n".encode(
        "ascii"
    )


def _sm2_parse_private(raw: bytes) -> tuple[bytes, bytes]:
    fields: dict[str, str] = {}
    for line in raw.decode("ascii", "replace").splitlines():
        k, sep, v = line.partition(":")
        if sep:
            fields[k.strip()] = v.strip()
    try:
        secret, public = bytes.fromhex(fields["private_key"]), bytes.fromhex(fields["public_key"])
    except (KeyError, ValueError):
        raise ConfigError("SM2 证明签名私钥文件缺少或写错 private_key / public_key") from None
    if len(secret) != 32 or len(public) != 64:
        raise ConfigError("SM2 证明签名私钥文件的密钥长度不对（私钥 32 字节，公钥 64 字节）")
    return secret, public


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """GmSSL prints a trace to fd 2 on every failed verification; keep the logs clean."""
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover
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
