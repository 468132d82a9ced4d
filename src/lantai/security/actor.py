"""Who is acting: a logged-in user, or the local operator at the command line."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from lantai.errors import PermissionDenied
from lantai.security.perms import Perm

__all__ = ["Actor"]


@dataclass(frozen=True, kw_only=True)
class Actor:
    username: str
    display_name: str
    user_id: int | None = None
    roles: frozenset[str] = frozenset()
    permissions: frozenset[Perm] = frozenset()
    clearance: str = "公开"
    clearance_rank: int = 0
    session_id: str | None = None
    csrf_token: str = ""
    is_operator: bool = False

    def can(self, perm: Perm) -> bool:
        return (
            perm is Perm.PUBLIC
            or self.is_operator
            or perm in self.permissions
            or (perm is Perm.AUTHENTICATED and self.user_id is not None)
        )

    def require(self, perm: Perm) -> None:
        if not self.can(perm):
            raise PermissionDenied(f"当前用户「{self.display_name}」无权执行此操作：{perm.label}")

    @classmethod
    def operator(cls, max_rank: int = 99) -> Actor:
        """The person at the server's command line (``lantai`` CLI): trusted, logged by OS name."""
        try:
            name = getpass.getuser()
        except Exception:  # pragma: no cover - no passwd entry in some containers
            name = "unknown"
        return cls(
            username=f"cli:{name}",
            display_name=f"命令行操作员（{name}）",
            is_operator=True,
            clearance="绝密",
            clearance_rank=max_rank,
        )

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(username="anonymous", display_name="匿名用户")
