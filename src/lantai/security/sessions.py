"""Login sessions: random tokens in an HttpOnly cookie (or a Bearer header); only their hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from lantai.store import LoginSession, User, utcnow

__all__ = ["SessionStore"]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    def __init__(self, *, lifetime: timedelta, idle: timedelta) -> None:
        self.lifetime = lifetime
        self.idle = idle

    def create(self, session: Session, user: User, *, client: str = "") -> tuple[str, LoginSession]:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        row = LoginSession(
            id=_digest(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.lifetime,
            client=client[:200],
        )
        session.add(row)
        return token, row

    def resolve(self, session: Session, token: str) -> tuple[LoginSession, User] | None:
        """The live session for ``token`` and its user, or None (expired, idle, revoked, disabled)."""
        if not token or len(token) > 200:
            return None
        row = session.get(LoginSession, _digest(token))
        if row is None or row.revoked:
            return None
        now = utcnow()
        if row.expires_at <= now or row.last_seen_at + self.idle <= now:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        return row, user

    @staticmethod
    def needs_touch(row: LoginSession) -> bool:
        """Activity is recorded at most once a minute: a write per request would serialise SQLite."""
        return utcnow() - row.last_seen_at > timedelta(seconds=60)

    def touch(self, session: Session, row: LoginSession) -> None:
        session.execute(
            update(LoginSession).where(LoginSession.id == row.id).values(last_seen_at=utcnow())
        )

    def revoke(self, session: Session, token: str) -> None:
        session.execute(
            update(LoginSession).where(LoginSession.id == _digest(token)).values(revoked=True)
        )

    def revoke_user(self, session: Session, user_id: int) -> None:
        session.execute(
            update(LoginSession).where(LoginSession.user_id == user_id).values(revoked=True)
        )
