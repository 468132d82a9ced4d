"""Request and response bodies of the JSON API (they are the OpenAPI schema)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from lantai.archival import Domain, Level
from lantai.store import Record

__all__ = [
    "ChildrenOut",
    "CreateFondsIn",
    "CreateRecordIn",
    "DbId",
    "ErrorOut",
    "IsoDate",
    "LoginIn",
    "LoginOut",
    "ProblemOut",
    "RecordOut",
    "UpdateRecordIn",
    "WithdrawIn",
    "record_out",
]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _not_a_timestamp(value: Any) -> Any:
    """pydantic reads a number (even "-1e-143") as a Unix timestamp; API dates are ISO only."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("日期须为 YYYY-MM-DD 格式")


# A date as the schema declares it (``format: date``), not a Unix timestamp.
IsoDate = Annotated[date, BeforeValidator(_not_a_timestamp)]
# A row id: what the database's integer columns hold (larger values would overflow SQLite).
DbId = Annotated[int, Field(ge=1, le=2**62)]


class ProblemOut(BaseModel):
    message: str
    rule: str | None = None
    field: str | None = None
    file: str | None = None
    row: int | None = None
    value: str | None = None


class ErrorOut(BaseModel):
    """The shape of every error response."""

    ok: bool = False
    status: int
    code: str
    error: str
    errors: list[ProblemOut] = []


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    role_labels: list[str]
    clearance: str
    permissions: list[str]


class LoginOut(BaseModel):
    token: str = Field(description="Bearer token for API clients (also set as an HttpOnly cookie)")
    csrf_token: str = Field(
        description="Send as X-CSRF-Token on unsafe requests made with the cookie"
    )
    user: UserOut


class RecordOut(BaseModel):
    id: int
    uid: str
    level: str
    level_label: str
    parent_id: int | None
    fonds_id: int | None
    category: str | None
    category_label: str
    archival_code: str | None
    title: str
    responsible: str | None
    date: str | None
    year: int | None
    retention: str | None
    retention_label: str | None
    security_level: str | None
    open_status: str | None
    lifecycle: str
    version: int
    has_children: bool | None = None
    values: dict[str, Any] | None = Field(
        None, description="All element values, keyed by element key"
    )
    updated_at: datetime
    updated_by: str


class ChildrenOut(BaseModel):
    items: list[RecordOut]
    next_cursor: str | None
    total: int


class CreateFondsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=8, description="全宗号")
    name: str = Field(min_length=1, max_length=500, description="全宗名称")
    responsible: str = Field(min_length=1, max_length=200, description="立档单位")
    values: dict[str, Any] = Field(default_factory=dict, description="Other fonds-level elements")


class CreateRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Level
    category: str | None = Field(None, max_length=8)
    values: dict[str, Any] = Field(description="Element values keyed by element key")


class UpdateRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="The version being edited (optimistic locking)")
    values: dict[str, Any]


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


def record_out(
    rec: Record, domain: Domain, *, has_children: bool | None = None, detail: bool = False
) -> RecordOut:
    retention = domain.table("retention")
    return RecordOut(
        id=rec.id,
        uid=rec.uid,
        level=rec.level,
        level_label=Level(rec.level).label,
        parent_id=rec.parent_id,
        fonds_id=rec.fonds_id,
        category=rec.category,
        category_label=domain.category_label(rec.category),
        archival_code=rec.archival_code,
        title=rec.title,
        responsible=rec.responsible,
        date=rec.date,
        year=rec.year,
        retention=rec.retention,
        retention_label=retention.label(rec.retention) if rec.retention else None,
        security_level=rec.security_level,
        open_status=rec.open_status,
        lifecycle=rec.lifecycle,
        version=rec.version,
        has_children=has_children,
        values=rec.values() if detail else None,
        updated_at=rec.updated_at,
        updated_by=rec.updated_by,
    )
