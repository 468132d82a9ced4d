"""Users, 三员 exclusivity, password policy, lockout, sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lantai.errors import AuthenticationRequired, Conflict, PermissionDenied, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm, load_roles
from lantai.security.passwords import check_policy
from lantai.store import utcnow

PW = "Lantai-Test-2026!"


def make(inst: Instance, name: str, roles: tuple[str, ...] = (), clearance: str = "公开") -> None:
    with inst.db.write() as s:
        inst.users.create(
            s,
            Actor.operator(),
            username=name,
            display_name=name,
            password=PW,
            roles=roles,
            clearance=clearance,
        )


def actor(inst: Instance, name: str) -> Actor:
    with inst.db.read() as s:
        return inst.users.actor_for(s, inst.users.get(s, name))


@pytest.mark.parametrize(
    "roles",
    [
        ("sysadmin", "secadmin"),
        ("sysadmin", "auditor"),
        ("secadmin", "auditor"),
        ("auditor", "archivist"),
        ("sysadmin", "reader"),
    ],
)
def test_sanyuan_are_mutually_exclusive(roles: tuple[str, ...]) -> None:
    with pytest.raises(ValidationFailed) as err:
        load_roles().check_combination(roles, username="u")
    assert "三员" in err.value.problems[0].rule


def test_business_roles_combine() -> None:
    load_roles().check_combination(("archivist", "reader"))


def test_roles_grant_exactly_their_permissions() -> None:
    book = load_roles()
    assert Perm.AUDIT_LOG_READ not in book.permissions(["sysadmin"])
    assert Perm.SECURITY_ROLE_ASSIGN not in book.permissions(["sysadmin"])
    assert Perm.SYSTEM_USER_MANAGE not in book.permissions(["secadmin"])
    assert Perm.CATALOGUE_RECORD_READ not in book.permissions(["auditor", "secadmin", "sysadmin"])
    assert Perm.AUDIT_LOG_VERIFY in book.permissions(["auditor"])


@pytest.mark.parametrize(
    ("password", "fragment"),
    [("short1A", "10"), ("alllowercaseletters", "三类"), ("Zhang-San-2026", "用户名")],
)
def test_password_policy(password: str, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_policy(password, username="zhang")
    assert any(fragment in p.message for p in err.value.problems)


def test_separation_of_duties(instance: Instance) -> None:
    make(instance, "admin", ("sysadmin",))
    make(instance, "sec", ("secadmin",))
    admin, sec = actor(instance, "admin"), actor(instance, "sec")
    with instance.db.write() as s:
        instance.users.create(s, admin, username="li", display_name="李四", password=PW)
    with pytest.raises(PermissionDenied), instance.db.write() as s:
        instance.users.create(
            s, admin, username="wang", display_name="王五", password=PW, roles=("archivist",)
        )
    with pytest.raises(PermissionDenied), instance.db.write() as s:
        instance.users.set_roles(s, admin, "li", ("archivist",))
    with pytest.raises(PermissionDenied, match="本人"), instance.db.write() as s:
        instance.users.set_roles(s, sec, "sec", ("secadmin", "archivist"))
    with instance.db.write() as s:
        assert instance.users.set_roles(s, sec, "li", ("archivist",)) == ["archivist"]
        instance.users.set_clearance(s, sec, "li", "机密")
    li = actor(instance, "li")
    assert li.clearance_rank == 3 and li.can(Perm.CATALOGUE_RECORD_EDIT)
    with pytest.raises(Conflict), instance.db.write() as s:
        instance.users.create(s, admin, username="li", display_name="重复", password=PW)


def test_lockout_and_unlock(instance: Instance) -> None:
    make(instance, "zhao", ("reader",))
    for _ in range(instance.settings.login_max_failures):
        with pytest.raises(AuthenticationRequired), instance.db.write() as s:
            try:
                instance.users.authenticate(s, "zhao", "wrong")
            finally:
                s.commit()
    with pytest.raises(AuthenticationRequired, match="锁定"), instance.db.write() as s:
        instance.users.authenticate(s, "zhao", PW)
    make(instance, "admin", ("sysadmin",))
    with instance.db.write() as s:
        instance.users.set_active(s, actor(instance, "admin"), "zhao", True)
    with instance.db.write() as s:
        assert instance.users.authenticate(s, "zhao", PW).username == "zhao"


def test_sessions_expire_and_follow_account_state(instance: Instance) -> None:
    make(instance, "qian", ("reader",))
    make(instance, "admin", ("sysadmin",))
    with instance.db.write() as s:
        token, row = instance.sessions.create(s, instance.users.get(s, "qian"))
    with instance.db.read() as s:
        assert instance.sessions.resolve(s, token) is not None
        assert instance.sessions.resolve(s, token + "x") is None
    with instance.db.write() as s:
        instance.users.set_active(s, actor(instance, "admin"), "qian", False)
    with instance.db.read() as s:
        assert instance.sessions.resolve(s, token) is None
    with instance.db.write() as s:
        instance.users.set_active(s, actor(instance, "admin"), "qian", True)
        stored = s.get(type(row), row.id)
        assert stored is not None
        stored.last_seen_at = utcnow() - timedelta(hours=2)
    with instance.db.read() as s:
        assert instance.sessions.resolve(s, token) is None  # idle timeout (60 min)


def test_password_change_rules(instance: Instance) -> None:
    make(instance, "sun", ("reader",))
    sun = actor(instance, "sun")
    with pytest.raises(PermissionDenied), instance.db.write() as s:
        instance.users.set_password(s, sun, "sun", "New-Password-2026", old_password="wrong")
    with instance.db.write() as s:
        instance.users.set_password(s, sun, "sun", "New-Password-2026", old_password=PW)
    with instance.db.write() as s:
        assert instance.users.authenticate(s, "sun", "New-Password-2026").username == "sun"
