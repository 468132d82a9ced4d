"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lantai.errors import Problem, ValidationFailed

__all__ = ["PasswordHashing", "check_policy"]

MIN_LENGTH = 10


def check_policy(password: str, *, username: str = "") -> None:
    """等保 2.0 口令复杂度: ≥ 10 characters, at least three character classes, not the username."""
    problems: list[Problem] = []
    if len(password) < MIN_LENGTH:
        problems.append(
            Problem(field="口令", rule="口令复杂度", message=f"口令至少 {MIN_LENGTH} 个字符")
        )
    classes = sum(
        bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    if classes < 3:
        problems.append(
            Problem(
                field="口令",
                rule="口令复杂度",
                message="口令须包含大写字母、小写字母、数字、符号中的至少三类",
            )
        )
    if username and username.lower() in password.lower():
        problems.append(Problem(field="口令", rule="口令复杂度", message="口令不得包含用户名"))
    if problems:
        raise ValidationFailed("口令不符合安全策略", problems)


class PasswordHashing:
    """argon2id with configurable cost (settings ``password_time_cost``, ``password_memory_kib``)."""

    def __init__(
        self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
