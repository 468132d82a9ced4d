"""User accounts, role assignment (三员 rules), clearances and authentication.

Every change records an event. The 三员 are kept apart: accounts are created and disabled by the
系统管理员, roles and clearances are assigned by the 安全保密员, and nobody may change their own
roles or clearance.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lantai.archival.codes import CodeTable
from lantai.audit import AuditLog, EventType, Outcome
from lantai.errors import (
    AuthenticationRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    Problem,
    ValidationFailed,
)
from lantai.security.actor import Actor
from lantai.security.passwords import PasswordHashing, check_policy
from lantai.security.perms import Perm
from lantai.security.roles import RoleBook
from lantai.store import User, UserRole, utcnow

__all__ = ["PasswordCheck", "UserService"]

_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


class PasswordCheck(NamedTuple):
    """What :meth:`UserService.check_password` found, before the write transaction."""

    stored: str | None  # the hash it checked against (None: no such account)
    matches: bool
    rehash: str | None = None  # a new hash with today's parameters, when the stored one is older


class UserService:
    def __init__(
        self,
        roles: RoleBook,
        security_levels: CodeTable,
        audit: AuditLog,
        *,
        max_failures: int = 5,
        lockout: timedelta = timedelta(minutes=15),
        hashing: PasswordHashing | None = None,
    ) -> None:
        self.hashing = hashing or PasswordHashing()
        self._dummy: str | None = None
        self.roles = roles
        self.levels = security_levels
        self.audit = audit
        self.max_failures = max_failures
        self.lockout = lockout

    # -- queries ---------------------------------------------------------------------------------

    def get(self, session: Session, username: str) -> User:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"用户「{username}」不存在")
        return user

    def roles_of(self, session: Session, user_id: int) -> list[str]:
        return sorted(session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))

    def list_users(self, session: Session) -> list[tuple[User, list[str]]]:
        users = session.scalars(select(User).order_by(User.username)).all()
        return [(u, self.roles_of(session, u.id)) for u in users]

    def actor_for(
        self, session: Session, user: User, *, session_id: str | None = None, csrf: str = ""
    ) -> Actor:
        roles = self.roles_of(session, user.id)
        entry = self.levels.get(user.clearance)
        return Actor(
            username=user.username,
            display_name=user.display_name,
            user_id=user.id,
            roles=frozenset(roles),
            permissions=self.roles.permissions(roles),
            clearance=user.clearance,
            clearance_rank=entry.rank if entry and entry.rank is not None else 0,
            session_id=session_id,
            csrf_token=csrf,
        )

    # -- changes ---------------------------------------------------------------------------------

    def create(
        self,
        session: Session,
        actor: Actor,
        *,
        username: str,
        display_name: str,
        password: str,
        roles: tuple[str, ...] = (),
        clearance: str = "公开",
    ) -> User:
        actor.require(Perm.SYSTEM_USER_MANAGE)
        if roles and not actor.can(Perm.SECURITY_ROLE_ASSIGN):
            raise PermissionDenied("系统管理员只能创建账号，角色须由安全保密员分配")
        name = username.strip().lower()
        if not name or len(name) > 64 or not set(name) <= _USERNAME_CHARS:
            raise ValidationFailed(
                "用户名无效",
                [
                    Problem(
                        field="用户名",
                        value=username,
                        rule="用户名格式",
                        message="只能使用小写字母、数字、点、下划线和连字符，最长 64 个字符",
                    )
                ],
            )
        check_policy(password, username=name)
        self.roles.check_combination(roles, username=name)
        self._check_clearance(clearance)
        if session.scalar(select(User.id).where(User.username == name)) is not None:
            raise Conflict(f"用户名「{name}」已存在")
        user = User(
            username=name,
            display_name=display_name.strip() or name,
            password_hash=self.hashing.hash(password),
            clearance=clearance,
        )
        session.add(user)
        session.flush()
        for r in roles:
            session.add(UserRole(user_id=user.id, role=r))
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.SECURITY_USER_CREATED,
            object_type="user",
            object_id=name,
            detail={
                "display_name": user.display_name,
                "roles": list(roles),
                "clearance": clearance,
            },
        )
        return user

    def set_roles(
        self, session: Session, actor: Actor, username: str, roles: tuple[str, ...]
    ) -> list[str]:
        actor.require(Perm.SECURITY_ROLE_ASSIGN)
        user = self.get(session, username)
        if actor.user_id is not None and actor.user_id == user.id:
            raise PermissionDenied("不能修改本人的角色")
        self.roles.check_combination(roles, username=username)
        before = set(self.roles_of(session, user.id))
        after = set(roles)
        session.execute(
            delete(UserRole).where(UserRole.user_id == user.id, UserRole.role.in_(before - after))
        )
        for r in sorted(after - before):
            session.add(UserRole(user_id=user.id, role=r))
        for r in sorted(after - before):
            self.audit.append(
                session,
                actor=actor.username,
                action=EventType.SECURITY_ROLE_GRANTED,
                object_type="user",
                object_id=username,
                detail={"role": r},
            )
        for r in sorted(before - after):
            self.audit.append(
                session,
                actor=actor.username,
                action=EventType.SECURITY_ROLE_REVOKED,
                object_type="user",
                object_id=username,
                detail={"role": r},
            )
        return sorted(after)

    def set_clearance(self, session: Session, actor: Actor, username: str, clearance: str) -> None:
        actor.require(Perm.SECURITY_CLEARANCE_ASSIGN)
        user = self.get(session, username)
        if actor.user_id is not None and actor.user_id == user.id:
            raise PermissionDenied("不能修改本人的密级授权")
        self._check_clearance(clearance)
        old = user.clearance
        user.clearance = clearance
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.SECURITY_CLEARANCE_CHANGED,
            object_type="user",
            object_id=username,
            detail={"from": old, "to": clearance},
        )

    def set_active(self, session: Session, actor: Actor, username: str, active: bool) -> None:
        actor.require(Perm.SYSTEM_USER_MANAGE)
        user = self.get(session, username)
        if actor.user_id is not None and actor.user_id == user.id and not active:
            raise PermissionDenied("不能停用本人账号")
        user.is_active = active
        if active:
            user.failed_logins = 0
            user.locked_until = None
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.SECURITY_USER_ENABLED if active else EventType.SECURITY_USER_DISABLED,
            object_type="user",
            object_id=username,
        )

    def set_password(
        self,
        session: Session,
        actor: Actor,
        username: str,
        new_password: str,
        *,
        old_password: str | None = None,
    ) -> None:
        user = self.get(session, username)
        own = actor.user_id is not None and actor.user_id == user.id
        if own:
            if old_password is None or not self.hashing.verify(user.password_hash, old_password):
                raise PermissionDenied("原口令不正确")
        else:
            actor.require(Perm.SYSTEM_USER_MANAGE)
        check_policy(new_password, username=username)
        user.password_hash = self.hashing.hash(new_password)
        user.password_changed_at = utcnow()
        self.audit.append(
            session,
            actor=actor.username,
            action=EventType.SECURITY_PASSWORD_CHANGED,
            object_type="user",
            object_id=username,
            detail={"reset_by_admin": not own},
        )

    def check_password(self, session: Session, username: str, password: str) -> PasswordCheck:
        """The slow part of a login (argon2, ~0.25 s), to run in a read transaction before
        :meth:`authenticate`'s write transaction: on SQLite that one holds the only writer lock,
        and every other write would wait for the hash. Also makes the new hash when the stored
        one has older parameters (a second argon2 run). Give the result to
        ``authenticate(checked=…)``, which uses it only if the stored hash is unchanged."""
        name = username.strip().lower()
        stored = session.scalar(select(User.password_hash).where(User.username == name))
        if stored is None:
            self.hashing.verify(self._dummy_hash(), password)
            return PasswordCheck(None, False)
        matches = self.hashing.verify(stored, password)
        rehash = None
        if matches and self.hashing.needs_rehash(stored):
            rehash = self.hashing.hash(password)
        return PasswordCheck(stored, matches, rehash)

    def authenticate(
        self,
        session: Session,
        username: str,
        password: str,
        *,
        client: str = "",
        checked: PasswordCheck | None = None,
    ) -> User:
        """Check a password; records success or failure; locks after repeated failures.
        ``checked``: :meth:`check_password`'s result, so that no hash is computed here."""
        name = username.strip().lower()
        user = session.scalar(select(User).where(User.username == name))
        now = utcnow()
        failure = AuthenticationRequired("用户名或口令错误")
        if user is None:
            if checked is None:
                self.hashing.verify(self._dummy_hash(), password)
            self._login_event(session, name, Outcome.FAILURE, "unknown_user", client)
            raise failure
        if user.locked_until is not None and user.locked_until > now:
            self._login_event(session, name, Outcome.FAILURE, "locked", client)
            raise AuthenticationRequired(
                "账号因多次登录失败已被暂时锁定，请稍后再试或联系系统管理员"
            )
        if not user.is_active:
            self._login_event(session, name, Outcome.FAILURE, "disabled", client)
            raise failure
        fresh = checked is not None and checked.stored == user.password_hash
        if checked is not None and fresh:
            matches = checked.matches
        else:  # not checked before, or the password changed since
            matches = self.hashing.verify(user.password_hash, password)
        if not matches:
            user.failed_logins += 1
            reason = "bad_password"
            if user.failed_logins >= self.max_failures:
                user.locked_until = now + self.lockout
                user.failed_logins = 0
                reason = "locked_now"
            self._login_event(session, name, Outcome.FAILURE, reason, client)
            raise failure
        user.failed_logins = 0
        user.locked_until = None
        if checked is not None and fresh and checked.rehash is not None:
            user.password_hash = checked.rehash  # made before this transaction
        elif self.hashing.needs_rehash(user.password_hash):
            user.password_hash = self.hashing.hash(password)
        self._login_event(session, name, Outcome.SUCCESS, "", client)
        return user

    def _dummy_hash(self) -> str:
        """A hash to verify against for unknown users, so both paths take the same time."""
        if self._dummy is None:
            self._dummy = self.hashing.hash("timing-equaliser")
        return self._dummy

    def _login_event(
        self, session: Session, name: str, outcome: Outcome, reason: str, client: str
    ) -> None:
        self.audit.append(
            session,
            actor=name or "anonymous",
            action=EventType.SECURITY_LOGIN_SUCCEEDED
            if outcome is Outcome.SUCCESS
            else EventType.SECURITY_LOGIN_FAILED,
            object_type="user",
            object_id=name or "-",
            outcome=outcome,
            detail={"reason": reason, "client": client} if reason else {"client": client},
        )

    def _check_clearance(self, clearance: str) -> None:
        if clearance not in self.levels:
            allowed = "、".join(self.levels.codes())
            raise ValidationFailed(
                "密级授权无效",
                [
                    Problem(
                        field="密级授权",
                        value=clearance,
                        rule="密级代码表",
                        message=f"应为 {allowed} 之一",
                    )
                ],
            )
