"""开放审核 candidates: which records are due for an open-access review, grouped in batches.

A record is a candidate when it is active, is a review unit (a 案卷, or a 件 not inside a 案卷: the
件 of a 案卷 are reviewed with it), is not already 开放, and one of:

* ``age``: its 形成年度 + 25 ≤ this year (档案法第二十七条). The 形成年度 is the latest year known
  for it: its own ``year``, the end year of its own ``date`` (``20190101-20191231`` → 2019), and for
  a 案卷 the latest year of any of its 件 (via ``record_closure``).
* ``early``: its 门类 is configured to open earlier (``data/candidates.yaml``, years per 门类 [M]).
* ``review_due``: it is 延期开放 and its re-review date has come. The re-review date is the
  ``review_due`` column of ``record_open_reviews`` written when a review result is applied
  (:mod:`lantai.appraisal.review.apply`); for records without that row the older convention
  ``fields["review_due"]`` (YYYYMMDD) is still read. A 延期开放 record with neither is listed as
  due (someone must set the date).

Records with no year at all are counted as ``undated`` and not listed. The SQL (one statement)
runs on SQLite and PostgreSQL; the end year of a date span is refined in Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from lantai.datafiles import load_model
from lantai.store import Record, RecordClosure, RecordOpenReview

__all__ = [
    "CANDIDATES_FILE_NAME",
    "Batch",
    "Candidate",
    "CandidatePolicy",
    "CandidateReport",
    "EarlyCategory",
    "find_candidates",
    "formation_year",
    "load_policy",
]

CANDIDATES_FILE_NAME = "open_candidates.yaml"
Reason = Literal["age", "early", "review_due"]
REASON_LABELS: dict[str, str] = {
    "age": "形成满二十五年",
    "early": "提前开放门类",
    "review_due": "延期开放到期复审",
}


class EarlyCategory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    category: str = Field(min_length=1, max_length=8)
    years: int = Field(ge=1, le=100)
    basis: str = ""
    verified: bool = False


class CandidatePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    default_years: int = Field(25, ge=1, le=100)
    basis: str = "档案法第二十七条"
    early: tuple[EarlyCategory, ...] = ()
    statuses: tuple[str, ...] = ("未审核", "控制")
    include_unset: bool = True

    def years_for(self, category: str | None) -> int:
        for e in self.early:
            if e.category == category:
                return min(e.years, self.default_years)
        return self.default_years


def load_policy(path: Path | None = None, *, config_dir: Path | None = None) -> CandidatePolicy:
    if path is None and config_dir is not None and (config_dir / CANDIDATES_FILE_NAME).is_file():
        path = config_dir / CANDIDATES_FILE_NAME
    path = path or Path(str(resources.files("lantai.appraisal") / "data" / "candidates.yaml"))
    return load_model(path, CandidatePolicy, title="开放审核候选范围配置")


@dataclass(frozen=True, slots=True)
class Candidate:
    record_id: int
    archival_code: str | None
    title: str
    level: str
    fonds_id: int | None
    category: str | None
    year: int
    open_status: str | None
    reason: Reason
    due: str | None = None  # the re-review date (review_due), YYYYMMDD

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "archival_code": self.archival_code,
            "title": self.title,
            "level": self.level,
            "fonds_id": self.fonds_id,
            "category": self.category,
            "year": self.year,
            "open_status": self.open_status,
            "reason": self.reason,
            "reason_label": REASON_LABELS[self.reason],
            "due": self.due,
        }


@dataclass(frozen=True, slots=True)
class Batch:
    """Candidates of one fonds, 形成年度 and 门类: the unit a review task is made of."""

    fonds_id: int | None
    fonds_code: str | None
    fonds_name: str
    year: int
    category: str | None
    count: int
    reasons: dict[str, int]
    record_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "fonds_id": self.fonds_id,
            "fonds_code": self.fonds_code,
            "fonds_name": self.fonds_name,
            "year": self.year,
            "category": self.category,
            "count": self.count,
            "reasons": self.reasons,
        }


@dataclass
class CandidateReport:
    as_of: date
    candidates: list[Candidate] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    undated: int = 0

    @property
    def total(self) -> int:
        return len(self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "total": self.total,
            "undated": self.undated,
            "batches": [b.to_dict() for b in self.batches],
        }


def _end_year(value: str | None) -> int | None:
    """The year of the last date written in ``value`` (20110305, [20110305], 2019-2020 …)."""
    if not value:
        return None
    s = value.strip().strip("[]").strip()
    end = s.rsplit("-", 1)[-1].strip()
    return int(end[:4]) if len(end) >= 4 and end[:4].isdigit() else None


def formation_year(
    own_year: int | None, own_date: str | None, child_year: int | None
) -> int | None:
    years = [y for y in (own_year, _end_year(own_date), child_year) if y is not None]
    return max(years) if years else None


def find_candidates(
    session: Session,
    policy: CandidatePolicy,
    *,
    today: date | None = None,
    fonds_id: int | None = None,
    year: int | None = None,
) -> CandidateReport:
    """Candidates as of ``today`` (optionally of one fonds and one 形成年度), with batches."""
    today = today or date.today()
    this_year = today.year
    parent = aliased(Record)
    child = aliased(Record)
    cl = aliased(RecordClosure)
    child_max = (
        select(func.max(child.year))
        .select_from(cl)
        .join(child, child.id == cl.descendant_id)
        .where(cl.ancestor_id == Record.id, cl.depth > 0, child.lifecycle == "active")
        .correlate(Record)
        .scalar_subquery()
    )
    own = func.coalesce(Record.year, -1)
    kids = func.coalesce(child_max, -1)
    eff = case((Record.level == "file", case((kids > own, kids), else_=own)), else_=own)
    threshold = (
        case(
            *[
                (Record.category == e.category, literal(policy.years_for(e.category)))
                for e in policy.early
            ],
            else_=literal(policy.default_years),
        )
        if policy.early
        else literal(policy.default_years)
    )
    review = aliased(RecordOpenReview)
    due_expr = Record.fields["review_due"].as_string()
    status_ok: ColumnElement[bool] = Record.open_status.in_(policy.statuses)
    if policy.include_unset:
        status_ok = or_(status_ok, Record.open_status.is_(None))
    today_s = today.strftime("%Y%m%d")
    legacy_due = or_(due_expr.is_(None), func.cast(due_expr, String) <= today_s)
    postponed_due = and_(
        Record.open_status == "延期开放",
        case((review.review_due.is_not(None), review.review_due <= today), else_=legacy_due),
    )
    # eff = -1 (no year column anywhere) may still have a date: refined below.
    age_ok = or_(eff + threshold <= this_year, eff == -1)
    stmt = (
        select(
            Record.id,
            Record.archival_code,
            Record.title,
            Record.level,
            Record.fonds_id,
            Record.category,
            Record.year,
            Record.date,
            Record.open_status,
            due_expr,
            case((eff == -1, None), else_=eff),
            review.review_due,
        )
        .outerjoin(parent, parent.id == Record.parent_id)
        .outerjoin(review, review.record_id == Record.id)
        .where(
            Record.lifecycle == "active",
            Record.level.in_(("file", "item")),
            or_(Record.level == "file", parent.level.is_(None), parent.level != "file"),
            or_(and_(status_ok, age_ok), postponed_due),
        )
        .order_by(Record.fonds_id, Record.category, Record.id)
    )
    if fonds_id is not None:
        stmt = stmt.where(Record.fonds_id == fonds_id)
    report = CandidateReport(as_of=today)
    for (
        rid,
        code,
        title,
        level,
        fid,
        cat,
        own_year,
        own_date,
        status,
        due,
        eff_year,
        stored_due,
    ) in session.execute(stmt):
        if stored_due is not None:
            due = stored_due.strftime("%Y%m%d")
        fy = formation_year(own_year, own_date, eff_year)
        if status == "延期开放":
            reason: Reason = "review_due"
        else:
            if fy is None:
                report.undated += 1
                continue
            if fy + policy.default_years <= this_year:
                reason = "age"
            elif fy + policy.years_for(cat) <= this_year:
                reason = "early"
            else:
                continue
        if fy is None:
            fy = 0
        if year is not None and fy != year:
            continue
        report.candidates.append(
            Candidate(rid, code, title, level, fid, cat, fy, status, reason, due)
        )
    report.batches = _batches(session, report.candidates)
    return report


def _batches(session: Session, candidates: Sequence[Candidate]) -> list[Batch]:
    groups: dict[tuple[int | None, int, str | None], list[Candidate]] = defaultdict(list)
    for c in candidates:
        groups[(c.fonds_id, c.year, c.category)].append(c)
    fonds_ids = {k[0] for k in groups if k[0] is not None}
    names: dict[int, tuple[str | None, str]] = {}
    if fonds_ids:
        for f_id, f_code, f_title in session.execute(
            select(Record.id, Record.archival_code, Record.title).where(Record.id.in_(fonds_ids))
        ):
            names[f_id] = (f_code, f_title)
    out = []
    for (fid, yr, cat), items in sorted(
        groups.items(),
        key=lambda kv: (names.get(kv[0][0] or 0, ("", ""))[0] or "", kv[0][1], kv[0][2] or ""),
    ):
        reasons: dict[str, int] = defaultdict(int)
        for c in items:
            reasons[c.reason] += 1
        code, name = names.get(fid or 0, (None, ""))
        out.append(
            Batch(
                fid,
                code,
                name,
                yr,
                cat,
                len(items),
                dict(reasons),
                tuple(c.record_id for c in items),
            )
        )
    return out
