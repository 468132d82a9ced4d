"""OFD signatures and seals (GB/T 33190-2016 §18): the References each Signature.xml protects.

For every ``Reference`` the digest of the referenced package member is recomputed with the
``CheckMethod`` of its ``References`` (SM3 by OID ``1.2.156.10197.1.401`` or by name, MD5, SHA1,
and SHA-256 for completeness) and compared with the base64 ``CheckValue``. A change to any
protected member breaks the reference. The signature value itself (``SignedValue.dat``: an SES
seal per GM/T 0031 / GB/T 38540 or a PKCS#7 SignedData, SM2 over SM3) and the signer's certificate
are **not** verified here: without a trust store that is 人工复核 (``value_verified`` is None).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from lxml import etree

from lantai.crypto.digest import new_sm3
from lantai.formats.ofd._package import MemberUnreadable, OfdPackage, local_name
from lantai.formats.ofd._structure import Structure

__all__ = [
    "CHECK_METHODS",
    "SIGNATURE_METHODS",
    "SM3_OID",
    "OfdSignature",
    "ReferenceCheck",
    "read_signatures",
]

SM3_OID: Final = "1.2.156.10197.1.401"


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class _Sm3:
    def __init__(self) -> None:
        self._h = new_sm3()

    def update(self, data: bytes, /) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return bytes.fromhex(self._h.hexdigest())


def _md5() -> _Hash:
    return hashlib.md5(usedforsecurity=False)


def _sha1() -> _Hash:
    return hashlib.sha1(usedforsecurity=False)


# CheckMethod as written → (algorithm name, hash factory)
CHECK_METHODS: Final[dict[str, tuple[str, Callable[[], _Hash]]]] = {
    "MD5": ("MD5", _md5),
    "1.2.840.113549.2.5": ("MD5", _md5),
    "SHA1": ("SHA1", _sha1),
    "SHA-1": ("SHA1", _sha1),
    "1.3.14.3.2.26": ("SHA1", _sha1),
    "SM3": ("SM3", _Sm3),
    SM3_OID: ("SM3", _Sm3),
    "SHA256": ("SHA256", hashlib.sha256),
    "SHA-256": ("SHA256", hashlib.sha256),
    "2.16.840.1.101.3.4.2.1": ("SHA256", hashlib.sha256),
}

SIGNATURE_METHODS: Final = {
    "1.2.156.10197.1.501": "SM2 签名（SM3 摘要）",
    "1.2.156.10197.1.301.1": "SM2 签名",
    "1.2.840.113549.1.1.11": "RSA（SHA-256）",
    "1.2.840.113549.1.1.5": "RSA（SHA-1）",
}


@dataclass(frozen=True, kw_only=True)
class ReferenceCheck:
    """One protected file: the digest the signature recorded and the one recomputed now."""

    file_ref: str  # as written in Signature.xml
    member: str | None  # the package member it resolves to
    algorithm: str | None  # SM3 / MD5 / SHA1 / SHA256, None when CheckMethod is unknown
    expected: str  # CheckValue (base64) as recorded
    actual: str | None  # recomputed (base64); None when the member is missing or unreadable
    ok: bool
    problem: str | None = None


@dataclass(frozen=True, kw_only=True)
class OfdSignature:
    """One Signature of the document and the result of checking its References."""

    id: str
    type: str  # Seal (电子印章) or Sign (电子签名)
    location: str | None  # Signature.xml
    provider: str
    method: str  # SignatureMethod as written (OID)
    method_label: str
    check_method: str  # References/@CheckMethod as written
    datetime: str
    signed_value: str | None  # member holding the signature value
    seal: str | None  # member holding the seal (Seal.esl), if any
    references: tuple[ReferenceCheck, ...]
    unprotected: tuple[str, ...]  # package members no Reference covers (excluding signature files)
    problems: tuple[str, ...] = ()
    value_verified: bool | None = None  # the SM2/PKCS#7 value itself: not verified here

    @property
    def references_ok(self) -> bool:
        """Every Reference resolves and its digest matches (and there is at least one)."""
        return bool(self.references) and not self.problems and all(r.ok for r in self.references)


def read_signatures(pkg: OfdPackage, st: Structure) -> list[OfdSignature]:
    """Every signature of every document, each reference digest recomputed."""
    out: list[OfdSignature] = []
    for doc in st.docs:
        if doc.signatures is None:
            continue
        root = pkg.xml(doc.signatures)
        if root is None:
            continue
        for el in root:
            if local_name(el) != "Signature":
                continue
            out.append(_signature(pkg, doc.signatures, el))
    return out


def _signature(pkg: OfdPackage, list_member: str, el: etree._Element) -> OfdSignature:
    sid = (el.get("ID") or "").strip()
    sig_type = el.get("Type") or "Seal"
    member = pkg.resolve(
        el.get("BaseLoc"), base=list_member, what=f"签名 ID={sid} 的 BaseLoc ", line=el.sourceline
    )
    root = pkg.xml(member) if member else None
    blank = OfdSignature(
        id=sid,
        type=sig_type,
        location=member,
        provider="",
        method="",
        method_label="",
        check_method="",
        datetime="",
        signed_value=None,
        seal=None,
        references=(),
        unprotected=(),
        problems=("签名描述文件缺失或无法解析",),
    )
    if root is None or member is None:
        return blank
    info = next((c for c in root if local_name(c) == "SignedInfo"), None)
    if info is None:
        return blank
    provider = next((c for c in info if local_name(c) == "Provider"), None)
    method = _child_text(info, "SignatureMethod")
    refs_el = next((c for c in info if local_name(c) == "References"), None)
    check_method = (refs_el.get("CheckMethod") if refs_el is not None else None) or "MD5"
    signed_value = pkg.resolve(
        _child_text(root, "SignedValue"), base=member, what="签名值 SignedValue "
    )
    seal_el = next((c for c in info if local_name(c) == "Seal"), None)
    seal = None
    if seal_el is not None:
        seal = pkg.resolve(_child_text(seal_el, "BaseLoc"), base=member, what="印章文件 ")
    problems: list[str] = []
    refs: list[ReferenceCheck] = []
    algo = CHECK_METHODS.get(check_method.strip())
    if algo is None:
        problems.append(f"不支持的摘要算法 CheckMethod={check_method}")
    if refs_el is not None:
        for ref in refs_el:
            if local_name(ref) == "Reference":
                refs.append(_reference(pkg, member, ref, algo))
    if not refs:
        problems.append("签名没有保护任何文件（无 Reference）")
    covered = {r.member for r in refs if r.member}
    own = {m for m in (member, signed_value, seal, list_member) if m}
    unprotected = tuple(
        sorted(m for m in pkg.members if m not in covered and m not in own and "/Signs/" not in m)
    )
    return OfdSignature(
        id=sid,
        type=sig_type,
        location=member,
        provider=(provider.get("ProviderName") or "") if provider is not None else "",
        method=method,
        method_label=SIGNATURE_METHODS.get(method, method),
        check_method=check_method,
        datetime=_child_text(info, "SignatureDateTime"),
        signed_value=signed_value,
        seal=seal,
        references=tuple(refs),
        unprotected=unprotected,
        problems=tuple(problems),
    )


def _child_text(el: etree._Element, name: str) -> str:
    child = next((c for c in el if local_name(c) == name), None)
    return (child.text or "").strip() if child is not None else ""


def _reference(
    pkg: OfdPackage,
    member: str,
    ref: etree._Element,
    algo: tuple[str, Callable[[], _Hash]] | None,
) -> ReferenceCheck:
    file_ref = (ref.get("FileRef") or "").strip()
    expected = _child_text(ref, "CheckValue")
    target = pkg.resolve(file_ref, base=member, what="签名保护的文件 ", line=ref.sourceline)

    def result(actual: str | None, ok: bool, problem: str | None) -> ReferenceCheck:
        return ReferenceCheck(
            file_ref=file_ref,
            member=target,
            algorithm=algo[0] if algo else None,
            expected=expected,
            actual=actual,
            ok=ok,
            problem=problem,
        )

    if algo is None:
        return result(None, False, "摘要算法未知，无法核验")
    if target is None:
        return result(None, False, "被保护的文件不存在")
    try:
        recorded = base64.b64decode(expected, validate=True)
    except (binascii.Error, ValueError):
        return result(None, False, "CheckValue 不是合法的 Base64")
    digest = _digest(pkg, target, algo[1])
    if digest is None:
        return result(None, False, "被保护的文件无法读取")
    actual = base64.b64encode(digest).decode("ascii")
    if digest != recorded:
        return result(actual, False, f"{algo[0]} 摘要不一致：文件在签名后被修改")
    return result(actual, True, None)


def _digest(pkg: OfdPackage, member: str, factory: Callable[[], _Hash]) -> bytes | None:
    chunks = pkg.stream(member)
    if chunks is None:
        return None
    h = factory()
    try:
        for chunk in chunks:
            h.update(chunk)
    except MemberUnreadable:
        return None
    return h.digest()
