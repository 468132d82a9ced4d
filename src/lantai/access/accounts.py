"""Citizens' accounts (实名注册): a ``users`` row holding only the ``citizen`` role + a profile.

Why a role and not a separate account table: the session, lock-out, argon2id and CSRF machinery of
staff accounts is reused unchanged, every portal route still declares one permission, and the
``citizen`` role is in an exclusive group in ``roles.yaml`` (it cannot be combined with any other
role) and holds only ``access:portal:self`` — so a citizen can never hold a staff permission.

The 居民身份证号 (GB 11643, check digit verified) is never stored: only HMAC-SHA256 under a key in
``<home>/secrets/access-id.key`` (to refuse a second account for the same person) and a masked form
(``110***********123X``) for display. The login name is the 手机号.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.appraisal.screening.identity import id18_valid
from lantai.atomicfile import create_once
from lantai.audit import EventType
from lantai.errors import Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security.passwords import check_policy
from lantai.store import Citizen, User, UserRole

__all__ = ["CITIZEN_ROLE", "Registration", "citizen_of", "id_key", "mask_id", "register"]

CITIZEN_ROLE = "citizen"
_PHONE = re.compile(r"^1[3-9][0-9]{9}$")
_NAME = re.compile(r"^[\u3400-\u9fff·•A-Za-z .]{2,50}$")


@dataclass(frozen=True)
class Registration:
    real_name: str
    id_number: str
    phone: str
    password: str
    user_type: str = "个人"
    unit_name: str = ""


def id_key(inst: Instance) -> bytes:
    """The key of the ID-number hashes (created on first use, readable by the owner only)."""
    path: Path = inst.settings.secrets_dir / "access-id.key"
    return create_once(path, lambda: secrets.token_bytes(32))


def _id_hash(key: bytes, id_number: str) -> str:
    return hmac.new(key, id_number.upper().encode("ascii"), hashlib.sha256).hexdigest()


def mask_id(id_number: str) -> str:
    return f"{id_number[:3]}{'*' * (len(id_number) - 7)}{id_number[-4:].upper()}"


def _problems(reg: Registration) -> list[Problem]:
    out: list[Problem] = []
    if not _NAME.match(reg.real_name.strip()):
        out.append(
            Problem(
                field="real_name",
                value=reg.real_name,
                rule="姓名",
                message="姓名：请填写与居民身份证一致的姓名（2–50 个字）",
            )
        )
    idn = reg.id_number.strip().upper()
    if not id18_valid(idn):
        out.append(
            Problem(
                field="id_number",
                value=mask_id(idn) if len(idn) == 18 else None,
                rule="GB 11643 公民身份号码",
                message="居民身份证号无效：须为 18 位，地区码、出生日期与校验码（GB 11643）均须正确",
            )
        )
    if not _PHONE.match(reg.phone.strip()):
        out.append(
            Problem(
                field="phone",
                value=reg.phone,
                rule="手机号",
                message="手机号无效：须为 11 位中国大陆手机号码",
            )
        )
    if reg.user_type not in ("个人", "单位"):
        out.append(
            Problem(
                field="user_type",
                value=reg.user_type,
                rule="用户类型",
                message="用户类型须为 个人 或 单位",
            )
        )
    elif reg.user_type == "单位" and not reg.unit_name.strip():
        out.append(
            Problem(field="unit_name", rule="用户类型", message="以单位名义利用时须填写单位名称")
        )
    try:
        check_policy(reg.password, username=reg.phone.strip())
    except ValidationFailed as exc:
        out += [Problem(field="password", rule=p.rule, message=p.message) for p in exc.problems]
    return out


def register(
    inst: Instance, session: Session, reg: Registration, *, password_hash: str | None = None
) -> User:
    """Create the account and its profile; every problem is reported at once (field by field).

    ``password_hash``: ``inst.users.hashing.hash(reg.password)`` computed by the caller before
    its write transaction (on SQLite the only writer lock: other writes need not wait for
    argon2); computed here when not given."""
    problems = _problems(reg)
    phone = reg.phone.strip()
    idn = reg.id_number.strip().upper()
    digest = ""
    if not problems:
        digest = _id_hash(id_key(inst), idn)
        if session.scalar(select(User.id).where(User.username == phone)) is not None:
            problems.append(
                Problem(
                    field="phone", value=phone, rule="唯一", message="该手机号已注册，请直接登录"
                )
            )
        if session.scalar(select(Citizen.user_id).where(Citizen.id_hash == digest)) is not None:
            problems.append(
                Problem(field="id_number", rule="唯一", message="该居民身份证号已注册，请直接登录")
            )
    if problems:
        raise ValidationFailed("注册信息有误，请按提示修改", problems)
    inst.roles.check_combination((CITIZEN_ROLE,), username=phone)
    user = User(
        username=phone,
        display_name=reg.real_name.strip(),
        password_hash=password_hash or inst.users.hashing.hash(reg.password),
        clearance="公开",
    )
    session.add(user)
    session.flush()
    session.add(UserRole(user_id=user.id, role=CITIZEN_ROLE))
    session.add(
        Citizen(
            user_id=user.id,
            real_name=reg.real_name.strip(),
            id_hash=digest,
            id_masked=mask_id(idn),
            phone=phone,
            user_type=reg.user_type,
            unit_name=reg.unit_name.strip(),
        )
    )
    inst.audit.append(
        session,
        actor=phone,
        action=EventType.ACCESS_CITIZEN_REGISTERED,
        object_type="user",
        object_id=phone,
        detail={"user_type": reg.user_type, "id_masked": mask_id(idn)},
    )
    return user


def citizen_of(session: Session, user_id: int | None) -> Citizen | None:
    return None if user_id is None else session.get(Citizen, user_id)
