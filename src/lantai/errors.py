"""Root exceptions.

Every error that reaches an archivist carries a stable ``code``, an HTTP ``status``, a zh-CN
``message`` and, where the error is about input, a list of :class:`Problem` records that each name
the file, the row or path, the field and the rule that was broken::

    LantaiError
    ├── InputError           bad input from a person or an agency (400/422)
    │   ├── ConfigError      a domain data file or setting is invalid (500 at start, 400 via CLI)
    │   └── ValidationFailed one or more Problems; nothing was written
    ├── NotFound             (404)
    ├── Conflict             a concurrent change or a uniqueness rule (409)
    ├── PermissionDenied     authenticated but not allowed (403)
    ├── AuthenticationRequired  no valid session (401)
    └── IntegrityFailure     stored data does not verify (audit chain, digests) (500)

Capabilities subclass these in their own ``errors.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "AuthenticationRequired",
    "ConfigError",
    "Conflict",
    "InputError",
    "IntegrityFailure",
    "LantaiError",
    "NotFound",
    "PermissionDenied",
    "Problem",
    "ValidationFailed",
]


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One finding about input: where it is, which field, which rule, and what is wrong."""

    message: str
    rule: str = ""
    field: str = ""
    file: str = ""
    row: int | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"第{self.row}行")
        if self.field:
            where.append(f"字段「{self.field}」")
        prefix = "，".join(where)
        rule = f"（规则：{self.rule}）" if self.rule else ""
        return f"{prefix}：{self.message}{rule}" if prefix else f"{self.message}{rule}"


class LantaiError(Exception):
    """Base of all Lantai errors."""

    status = 500
    code = "error"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = list(problems or [])

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": False,
            "status": self.status,
            "code": self.code,
            "error": self.message,
            "errors": [p.to_dict() for p in self.problems],
        }

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message] + [f"  - {p}" for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"  …… 另有 {len(self.problems) - 50} 处问题")
        return "\n".join(lines)


class InputError(LantaiError):
    """The input is not acceptable; nothing was written."""

    status = 400
    code = "input_error"


class ConfigError(InputError):
    """A domain data file or a setting does not satisfy its schema."""

    code = "config_error"


class ValidationFailed(InputError):
    """One or more problems were found; the whole operation was refused."""

    status = 422
    code = "validation_failed"


class NotFound(LantaiError):
    """The requested object does not exist (or is invisible to this user)."""

    status = 404
    code = "not_found"


class Conflict(LantaiError):
    """A uniqueness rule or a concurrent change prevents the operation."""

    status = 409
    code = "conflict"


class PermissionDenied(LantaiError):
    """The actor lacks the permission or the clearance."""

    status = 403
    code = "permission_denied"


class AuthenticationRequired(LantaiError):
    """No valid session or credentials."""

    status = 401
    code = "authentication_required"


class IntegrityFailure(LantaiError):
    """Stored data failed verification (audit chain, digest)."""

    status = 500
    code = "integrity_failure"
