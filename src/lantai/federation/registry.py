"""The partner registry: the one list of partner nodes (URL, archive code, public keys).

三员 separation: registering a partner and trusting its keys are two people's acts.

* :func:`add_partner` (系统管理员, ``federation:node:manage``) stores the partner's address, code
  and name and the public keys it *offers* (``offered_keys``), and keeps the OAI-PMH endpoint row
  for harvesting (``oai_partners``, name = archive code, base URL = ``<url>/oai``) pointing back
  from the registry row: partners are entered once, here. It trusts nothing: until a key is
  approved, messages signed by the partner are rejected as ``unknown_key``.
* :func:`trust_partner_keys` (安全保密员, ``certificate:key:manage``, the permission of every
  other key-trust decision) approves offered keys by their key id, which is the key's fingerprint
  (``<digest>:<hex digest of the SubjectPublicKeyInfo>``) to be compared with the partner out of
  band. An approved key becomes a ``certificate_keys`` row with origin ``trusted`` (so messages
  from the partner verify and its certificates verify at this archive's public verification
  page: one key system) and is listed in the partner's ``key_ids``.

A system administrator alone therefore cannot make this node trust a foreign signing key.
The offered keys come from the partner's ``/api/public/federation/node`` document or from a file
(``lantai certificate keys export`` there).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx2
from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.audit import EventType
from lantai.certificates.keys import import_trusted
from lantai.certificates.verify import KeyRing, TrustedKey
from lantai.errors import Conflict, InputError, NotFound, Problem
from lantai.federation.identity import _check_url, require_node
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import CertificateKey, OaiPartner
from lantai.store.federation import FederationPartner

__all__ = [
    "add_partner",
    "fetch_node_document",
    "find_partner_key",
    "get_partner",
    "list_partners",
    "offered_keys",
    "set_enabled",
    "trust_partner_keys",
]

_CODE_CHARS = "0123456789"


def fetch_node_document(base_url: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """The partner's public node document (identity + LANTAI-CERT-KEYS-1 keys)."""
    url = _check_url(base_url) + "/api/public/federation/node"
    try:
        resp = httpx2.get(url, timeout=timeout)
    except httpx2.HTTPError as exc:
        raise InputError(f"无法读取协作馆节点信息 {url}：{exc}") from None
    if resp.status_code != 200:
        raise InputError(f"协作馆节点信息 {url} 返回 HTTP {resp.status_code}")
    doc = resp.json()
    if not isinstance(doc, dict) or "keys" not in doc:
        raise InputError(f"协作馆节点信息 {url} 格式不对")
    return doc


def add_partner(
    inst: Instance,
    session: Session,
    actor: Actor,
    *,
    base_url: str,
    keys: dict[str, Any],
    archive_code: str,
    name: str,
    note: str = "",
) -> FederationPartner:
    """Register a partner node (or update its address and keys)."""
    actor.require(Perm.FEDERATION_NODE_MANAGE)
    own = require_node(session)
    url = _check_url(base_url)
    problems = []
    if len(archive_code) != 6 or any(c not in _CODE_CHARS for c in archive_code):
        problems.append(
            Problem(field="archive_code", value=archive_code, message="档案馆代码须为 6 位数字")
        )
    if not name.strip() or len(name) > 200:
        problems.append(Problem(field="name", message="协作馆名称必填，至多 200 字"))
    if problems:
        raise InputError("协作馆信息不完整", problems)
    if archive_code == own.archive_code:
        raise Conflict(f"档案馆代码 {archive_code} 是本馆自己的代码")
    ring = KeyRing.from_json(keys)
    foreign = [k for k in ring.keys.values() if k.issuer_code != archive_code]
    if foreign or not ring.keys:
        raise InputError(
            "协作馆公钥集不对",
            [
                Problem(
                    field="keys",
                    message=f"公钥集须只含档案馆代码为 {archive_code} 的公钥（且至少一个）",
                )
            ],
        )
    # trusting the keys is the 安全保密员's decision (trust_partner_keys): here they are offered
    already = _trusted_ids(session, archive_code, ring)
    oai = session.scalar(select(OaiPartner).where(OaiPartner.name == archive_code))
    if oai is None:
        oai = OaiPartner(
            name=archive_code,
            archive_code=archive_code,
            base_url=url + "/oai",
            set_spec=None,
            enabled=True,
            created_by=actor.username,
        )
        session.add(oai)
    else:
        oai.base_url, oai.archive_code = url + "/oai", archive_code
    session.flush()
    row = session.scalar(
        select(FederationPartner).where(FederationPartner.archive_code == archive_code)
    )
    created = row is None
    offered: dict[str, Any] = {
        "format": "LANTAI-CERT-KEYS-1",
        "keys": [k.to_dict() for kid, k in sorted(ring.keys.items()) if kid not in already],
    }
    if row is None:
        row = FederationPartner(
            archive_code=archive_code,
            name=name.strip(),
            base_url=url,
            key_ids=sorted(already),
            offered_keys=offered,
            enabled=True,
            oai_partner_id=oai.id,
            created_by=actor.username,
            note=note,
        )
        session.add(row)
    else:
        row.name, row.base_url, row.oai_partner_id = name.strip(), url, oai.id
        row.key_ids = sorted(set(row.key_ids) | already)
        row.offered_keys = offered
        row.enabled = True
    session.flush()
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.FEDERATION_PARTNER_ADDED
        if created
        else EventType.FEDERATION_PARTNER_UPDATED,
        object_type="federation_partner",
        object_id=archive_code,
        detail={
            "base_url": url,
            "name": row.name,
            "key_ids": row.key_ids,
            "offered_key_ids": [k["key_id"] for k in offered["keys"]],
        },
    )
    return row


def _trusted_ids(session: Session, archive_code: str, ring: KeyRing) -> set[str]:
    """The keys of ``ring`` this node already trusts as ``archive_code``'s (approved earlier)."""
    out = set()
    for kid in ring.keys:
        row = session.get(CertificateKey, kid)
        if row is not None and row.origin == "trusted" and row.issuer_code == archive_code:
            out.add(kid)
    return out


def offered_keys(partner: FederationPartner) -> list[TrustedKey]:
    """The keys ``partner`` offered that are not trusted yet (for the 安全保密员 to compare)."""
    doc = partner.offered_keys or {}
    if not doc.get("keys"):
        return []
    return list(KeyRing.from_json(doc).keys.values())


def trust_partner_keys(
    inst: Instance, session: Session, actor: Actor, archive_code: str, key_ids: list[str]
) -> FederationPartner:
    """安全保密员: trust the offered keys ``key_ids`` (their fingerprints, checked out of band)."""
    actor.require(Perm.CERTIFICATE_KEY_MANAGE)
    row = get_partner(session, archive_code)
    offered = {k.key_id: k for k in offered_keys(row)}
    unknown = [kid for kid in key_ids if kid not in offered]
    if not key_ids or unknown:
        raise InputError(
            "所选公钥不在协作馆提交待核的公钥中",
            [Problem(field="key_ids", value=kid, message="不是待核公钥") for kid in unknown]
            or [Problem(field="key_ids", message="至少选择一个待核公钥")],
        )
    chosen = KeyRing()
    for kid in key_ids:
        chosen.add(offered[kid])
    import_trusted(inst, session, actor, chosen.to_json(), note=f"协作馆 {archive_code}")
    row.key_ids = sorted(set(row.key_ids) | set(key_ids))
    rest = [k.to_dict() for kid, k in sorted(offered.items()) if kid not in key_ids]
    row.offered_keys = {"format": "LANTAI-CERT-KEYS-1", "keys": rest} if rest else {}
    session.flush()
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.FEDERATION_PARTNER_UPDATED,
        object_type="federation_partner",
        object_id=archive_code,
        detail={"trusted_key_ids": sorted(key_ids), "key_ids": row.key_ids},
    )
    return row


def list_partners(session: Session, *, enabled_only: bool = False) -> list[FederationPartner]:
    q = select(FederationPartner).order_by(FederationPartner.archive_code)
    if enabled_only:
        q = q.where(FederationPartner.enabled.is_(True))
    return list(session.scalars(q))


def get_partner(session: Session, archive_code: str) -> FederationPartner:
    row = session.scalar(
        select(FederationPartner).where(FederationPartner.archive_code == archive_code)
    )
    if row is None:
        raise NotFound(f"协作馆「{archive_code}」未登记")
    return row


def set_enabled(
    inst: Instance, session: Session, actor: Actor, archive_code: str, enabled: bool
) -> FederationPartner:
    actor.require(Perm.FEDERATION_NODE_MANAGE)
    row = get_partner(session, archive_code)
    row.enabled = enabled
    if row.oai_partner_id is not None:
        oai = session.get(OaiPartner, row.oai_partner_id)
        if oai is not None:
            oai.enabled = enabled
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.FEDERATION_PARTNER_UPDATED,
        object_type="federation_partner",
        object_id=archive_code,
        detail={"enabled": enabled},
    )
    return row


def find_partner_key(session: Session, sender: str, key_id: str) -> TrustedKey | None:
    """The trusted key ``key_id`` of the enabled partner ``sender``, if it is one of its keys."""
    partner = session.scalar(
        select(FederationPartner).where(
            FederationPartner.archive_code == sender, FederationPartner.enabled.is_(True)
        )
    )
    if partner is None or key_id not in partner.key_ids:
        return None
    row = session.get(CertificateKey, key_id)
    if row is None or row.origin != "trusted" or row.issuer_code != sender:
        return None
    from lantai.certificates.profiles import spki_of_pem

    return TrustedKey(
        key_id=row.key_id,
        algorithm=row.algorithm,
        public_key=spki_of_pem(row.public_key_pem),
        issuer_name=row.issuer_name,
        issuer_code=row.issuer_code,
        valid_from=row.valid_from,
        valid_until=row.retired_at,
    )


def touch(session: Session, sender: str) -> None:
    partner = session.scalar(
        select(FederationPartner).where(FederationPartner.archive_code == sender)
    )
    if partner is not None:
        partner.last_seen_at = datetime.now(UTC)
