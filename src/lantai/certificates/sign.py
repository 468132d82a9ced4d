"""The signature block of a certificate and how it is embedded in the PDF.

**Format LANTAI-CERT-SIG-1** (docs/certificates.md gives the same in prose):

1. The certificate is rendered to PDF bytes ``P`` (what is signed; ``signed_length = len(P)``).
2. The digest ``D`` of ``P`` is computed with the profile's digest (SM3 for SM2, SHA-256 else).
3. The **to-be-signed text** (:meth:`SignatureBlock.tbs`) is UTF-8, one ``name: value`` line each
   after the first line ``LANTAI-CERT-SIG-1``: code, key_id, algorithm, digest_algorithm, digest,
   signed_length, issuer_code, issuer_name, issued_at, verify_url. The key signs these bytes
   (SM2: signer ID ``1234567812345678``, SM3 inside the SM2 scheme).
4. The block (canonical JSON: sorted keys, no spaces, UTF-8; it also carries the TBS text, the
   base64 signature and the public key) is appended to ``P`` as a standard PDF **incremental
   update**: one new Info dictionary object whose ``/LantaiCertSignature`` entry is the block as
   a hex string, an xref section for that object, and a trailer with ``/Prev`` pointing at the
   original xref. Readers show the unchanged pages; the file alone carries its proof.

The increment is a pure function of ``P`` and the block (:func:`increment`), so a verifier
rebuilds it and requires ``file == P + increment(P, block)`` byte for byte: a change anywhere,
including content appended after the signature (a second incremental update), is detected.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BLOCK_KEY",
    "FORMAT",
    "BlockError",
    "SignatureBlock",
    "embed",
    "find_block",
    "increment",
]

FORMAT = "LANTAI-CERT-SIG-1"
BLOCK_KEY = b"/LantaiCertSignature"
_BLOCK_RE = re.compile(rb"/LantaiCertSignature <([0-9a-f]*)>")
_STARTXREF_RE = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*\Z")
_REF_RE = {
    "Root": re.compile(rb"/Root\s+(\d+\s+\d+\s+R)"),
    "Size": re.compile(rb"/Size\s+(\d+)"),
    "ID": re.compile(rb"/ID\s*(\[\s*<[0-9A-Fa-f]*>\s*<[0-9A-Fa-f]*>\s*\])"),
}


class BlockError(ValueError):
    """The PDF or the block cannot be read (its message is zh-CN, shown to the verifier)."""


@dataclass(frozen=True, kw_only=True)
class SignatureBlock:
    code: str
    key_id: str
    algorithm: str
    digest_algorithm: str
    digest: str
    signed_length: int
    issuer_code: str
    issuer_name: str
    issued_at: str  # ISO 8601 UTC, seconds, "Z"
    verify_url: str
    public_key: bytes = b""  # SubjectPublicKeyInfo DER (informative; trust comes from the key ring)
    signature: bytes = b""

    def tbs(self) -> bytes:
        """The exact bytes the key signs."""
        lines = [
            FORMAT,
            f"code: {self.code}",
            f"key_id: {self.key_id}",
            f"algorithm: {self.algorithm}",
            f"digest_algorithm: {self.digest_algorithm}",
            f"digest: {self.digest}",
            f"signed_length: {self.signed_length}",
            f"issuer_code: {self.issuer_code}",
            f"issuer_name: {self.issuer_name}",
            f"issued_at: {self.issued_at}",
            f"verify_url: {self.verify_url}",
        ]
        return ("\n".join(line.replace("\n", " ") for line in lines) + "\n").encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "code": self.code,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "digest_algorithm": self.digest_algorithm,
            "digest": self.digest,
            "signed_length": self.signed_length,
            "issuer_code": self.issuer_code,
            "issuer_name": self.issuer_name,
            "issued_at": self.issued_at,
            "verify_url": self.verify_url,
            "public_key": base64.b64encode(self.public_key).decode("ascii"),
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "tbs": self.tbs().decode("utf-8"),
        }

    def to_json(self) -> bytes:
        return json.dumps(
            self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> SignatureBlock:
        try:
            d = json.loads(raw.decode("utf-8"))
            if not isinstance(d, dict) or d.get("format") != FORMAT:
                raise BlockError(f"签名块格式不是 {FORMAT}")
            block = cls(
                code=str(d["code"]),
                key_id=str(d["key_id"]),
                algorithm=str(d["algorithm"]),
                digest_algorithm=str(d["digest_algorithm"]),
                digest=str(d["digest"]),
                signed_length=int(d["signed_length"]),
                issuer_code=str(d["issuer_code"]),
                issuer_name=str(d["issuer_name"]),
                issued_at=str(d["issued_at"]),
                verify_url=str(d["verify_url"]),
                public_key=base64.b64decode(d["public_key"], validate=True),
                signature=base64.b64decode(d["signature"], validate=True),
            )
        except BlockError:
            raise
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error):
            raise BlockError("签名块内容无法解读（已损坏或被改动）") from None
        if d.get("tbs") != block.tbs().decode("utf-8"):
            raise BlockError("签名块中的待签名文本与各字段不一致（已被改动）")
        return block


def _trailer(signed: bytes) -> dict[str, bytes]:
    tail = signed[-4096:]
    m = _STARTXREF_RE.search(tail)
    at = tail.rfind(b"trailer")
    if m is None or at < 0:
        raise BlockError("被签名部分不是完整的 PDF（找不到 trailer / startxref / %%EOF）")
    trailer = tail[at : m.start()]
    out = {"startxref": m.group(1)}
    for name, rx in _REF_RE.items():
        found = rx.search(trailer)
        if found is None and name != "ID":
            raise BlockError(f"被签名部分的 PDF trailer 缺少 /{name}")
        if found is not None:
            out[name] = found.group(1)
    return out


def _utf16_hex(text: str) -> bytes:
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def increment(signed: bytes, block: SignatureBlock) -> bytes:
    """The incremental update that carries ``block`` after the signed bytes (deterministic)."""
    t = _trailer(signed)
    obj = int(t["Size"])
    start = len(signed)
    body = (
        f"{obj} 0 obj\n<< /Producer (Lantai LANTAI-CERT-SIG-1) /Title ".encode("ascii")
        + _utf16_hex(f"{block.issuer_name} 电子证明 {block.code}")
        + b" "
        + BLOCK_KEY
        + b" <"
        + block.to_json().hex().encode("ascii")
        + b"> >>\nendobj\n"
    )
    xref_at = start + len(body)
    trailer = b"trailer\n<< /Size %d /Root %s /Info %d 0 R /Prev %s" % (
        obj + 1,
        t["Root"],
        obj,
        t["startxref"],
    )
    if "ID" in t:
        trailer += b" /ID " + t["ID"]
    return (
        body
        + b"xref\n%d 1\n%010d 00000 n \n" % (obj, start)
        + trailer
        + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    )


def embed(signed: bytes, block: SignatureBlock) -> bytes:
    if block.signed_length != len(signed):
        raise ValueError("signed_length does not match the signed bytes")
    return signed + increment(signed, block)


def find_block(data: bytes) -> SignatureBlock | None:
    """The last signature block in ``data``; None if there is none. Raises BlockError if unreadable."""
    matches = list(_BLOCK_RE.finditer(data, max(0, len(data) - (1 << 20))))
    if not matches:
        return None
    try:
        raw = bytes.fromhex(matches[-1].group(1).decode("ascii"))
    except ValueError:
        raise BlockError("签名块不是有效的十六进制串（已损坏）") from None
    return SignatureBlock.from_json(raw)
