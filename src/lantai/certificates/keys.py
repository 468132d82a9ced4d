"""The archive's certificate signing keys and the key ring verification trusts.

Own keys: the private key is a file ``<secrets>/certificates/<profile>-<first 32 hex of the key
id>.key`` (mode 0600, written before the key row is committed); the public key, its key id
(``sm3:``/``sha256:`` + digest of the SubjectPublicKeyInfo), the issuing archive and the period
it is in use are a ``certificate_keys`` row. At most one own key is ``active``; it is created on
first use (:func:`signing_key`) with the profile of ``LANTAI_CERTIFICATE_PROFILE``.
:func:`rotate_key` retires it (``retired_at``: it still verifies what it signed before) and makes
a new one. Other archives' public keys are imported as ``trusted`` rows (:func:`import_trusted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.atomicfile import write_atomic
from lantai.audit import EventType
from lantai.certificates.profiles import Profile, key_id_for, pem_of, profile, spki_of_pem
from lantai.certificates.verify import KeyRing, TrustedKey
from lantai.errors import ConfigError, Conflict, NotFound
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import utcnow
from lantai.store.certificates import CertificateKey

__all__ = [
    "SigningKey",
    "export_keys",
    "import_trusted",
    "key_ring",
    "list_keys",
    "rotate_key",
    "signing_key",
]

OWN, TRUSTED = "own", "trusted"
ACTIVE, RETIRED = "active", "retired"


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    profile: Profile
    private: bytes
    public_spki: bytes


def _key_dir(inst: Instance) -> Path:
    return inst.settings.secrets_dir / "certificates"


def _key_path(inst: Instance, prof: Profile, key_id: str) -> Path:
    return _key_dir(inst) / f"{prof.name}-{key_id.partition(':')[2][:32]}.key"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    write_atomic(path, data, mode=0o600)


def _create(inst: Instance, session: Session, actor: Actor, profile_name: str) -> CertificateKey:
    prof = profile(profile_name)
    pair = prof.generate()
    key_id = key_id_for(prof, pair.public_spki)
    _write_private(_key_path(inst, prof, key_id), pair.private)
    row = CertificateKey(
        key_id=key_id,
        origin=OWN,
        algorithm=prof.algorithm,
        public_key_pem=pem_of(pair.public_spki),
        issuer_name=inst.settings.archive_name,
        issuer_code=inst.settings.archive_code,
        state=ACTIVE,
        valid_from=utcnow(),
        created_by=actor.username,
        note="",
    )
    session.add(row)
    session.flush()
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.CERTIFICATE_KEY_CREATED,
        object_type="certificate_key",
        object_id=key_id[:64],
        detail={"key_id": key_id, "algorithm": prof.algorithm},
    )
    return row


def _active(session: Session) -> CertificateKey | None:
    return session.scalar(
        select(CertificateKey)
        .where(CertificateKey.origin == OWN, CertificateKey.state == ACTIVE)
        .order_by(CertificateKey.valid_from.desc())
        .limit(1)
    )


def signing_key(inst: Instance, session: Session, actor: Actor) -> SigningKey:
    """The active own key (made now, with an event, if there is none yet)."""
    row = _active(session) or _create(inst, session, actor, inst.settings.certificate_profile)
    prof = profile(row.algorithm)
    path = _key_path(inst, prof, row.key_id)
    try:
        private = path.read_bytes()
    except OSError:
        raise ConfigError(
            f"找不到证明签名私钥文件 {path}（密钥 {row.key_id[:24]}…）。"
            "请从备份恢复 secrets 目录，或运行 `lantai certificate keys rotate` 生成新密钥"
        ) from None
    return SigningKey(row.key_id, prof, private, spki_of_pem(row.public_key_pem))


def rotate_key(
    inst: Instance, session: Session, actor: Actor, *, profile_name: str | None = None
) -> CertificateKey:
    """Retire the active own key (it keeps verifying what it signed) and make a new one."""
    actor.require(Perm.CERTIFICATE_KEY_MANAGE)
    old = _active(session)
    if old is not None:
        old.state, old.retired_at = RETIRED, utcnow()
        inst.audit.append(
            session,
            actor=actor.username,
            action=EventType.CERTIFICATE_KEY_RETIRED,
            object_type="certificate_key",
            object_id=old.key_id[:64],
            detail={"key_id": old.key_id},
        )
        session.flush()
    return _create(inst, session, actor, profile_name or inst.settings.certificate_profile)


def list_keys(session: Session) -> list[CertificateKey]:
    return list(
        session.scalars(
            select(CertificateKey).order_by(CertificateKey.origin, CertificateKey.valid_from)
        )
    )


def _trusted_key(row: CertificateKey) -> TrustedKey:
    return TrustedKey(
        key_id=row.key_id,
        algorithm=row.algorithm,
        public_key=spki_of_pem(row.public_key_pem),
        issuer_name=row.issuer_name,
        issuer_code=row.issuer_code,
        valid_from=row.valid_from,
        valid_until=row.retired_at,
        own=row.origin == OWN,
    )


def key_ring(session: Session, *, own_only: bool = False) -> KeyRing:
    """Every key verification trusts: own keys (active and retired) and imported ones."""
    ring = KeyRing()
    for row in list_keys(session):
        if own_only and row.origin != OWN:
            continue
        ring.add(_trusted_key(row))
    return ring


def export_keys(session: Session) -> dict[str, Any]:
    """This archive's public keys as a LANTAI-CERT-KEYS-1 document (for other archives)."""
    return key_ring(session, own_only=True).to_json()


def import_trusted(
    inst: Instance, session: Session, actor: Actor, doc: dict[str, Any], *, note: str = ""
) -> list[str]:
    """Trust another archive's public keys (a LANTAI-CERT-KEYS-1 document). Returns new key ids."""
    actor.require(Perm.CERTIFICATE_KEY_MANAGE)
    ring = KeyRing.from_json(doc)
    added: list[str] = []
    for key in ring.keys.values():
        existing = session.get(CertificateKey, key.key_id)
        if existing is not None:
            if existing.origin == OWN:
                raise Conflict(f"公钥 {key.key_id[:24]}… 是本馆自己的密钥，不能作为他馆公钥导入")
            if key.valid_until is not None and existing.retired_at is None:
                existing.state, existing.retired_at = RETIRED, key.valid_until  # retired there
                added.append(key.key_id)
            continue
        if key.issuer_code == inst.settings.archive_code:
            raise Conflict(f"公钥 {key.key_id[:24]}… 标注的档案馆代码与本馆相同，拒绝导入")
        session.add(
            CertificateKey(
                key_id=key.key_id,
                origin=TRUSTED,
                algorithm=key.algorithm,
                public_key_pem=pem_of(key.public_key),
                issuer_name=key.issuer_name,
                issuer_code=key.issuer_code,
                state=RETIRED if key.valid_until else ACTIVE,
                valid_from=key.valid_from,
                retired_at=key.valid_until,
                created_by=actor.username,
                note=note,
            )
        )
        added.append(key.key_id)
    if added:
        session.flush()
        inst.audit.append(
            session,
            actor=actor.username,
            action=EventType.CERTIFICATE_KEY_TRUSTED,
            object_type="certificate_key",
            object_id=added[0][:64],
            detail={
                "key_ids": added,
                "issuers": sorted({k.issuer_code for k in ring.keys.values()}),
            },
        )
    return added


def get_key(session: Session, key_id: str) -> CertificateKey:
    row = session.get(CertificateKey, key_id)
    if row is None:
        raise NotFound(f"证明签名密钥「{key_id}」不存在")
    return row
