"""One filter, two readings: a sum over the summary and the records behind it.

Every holdings figure (dashboard and annual form) is a :class:`Holdings` filter plus a measure.
:meth:`Holdings.total` reads the maintained summary (fast at any size); :meth:`Holdings.records`
is the same condition on ``records`` (what a drill-down lists) and :meth:`Holdings.recount`
evaluates the measure on those records — the consistency check compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    exists,
    extract,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from lantai.store import (
    DashboardHolding,
    PublicationState,
    PublishedRecord,
    Record,
    RecordFile,
    ScanPage,
)

__all__ = ["HOLDING_UNITS", "Holdings", "Measure"]

Measure = Literal["records", "digitised", "files", "bytes", "pages", "minutes", "scanned", "frames"]
# 保管单位: 案卷 and 件 not inside a 案卷 (卷内文件 are counted with their 卷).
HOLDING_UNITS = ("file", "item")
ACTIVE = "active"
_PARENT = aliased(Record, name="holding_parent")


def _published(record_id: Any, year: int | None = None) -> ColumnElement[bool]:
    cond = [
        PublishedRecord.record_id == record_id,
        PublishedRecord.state == PublicationState.PUBLISHED.value,
    ]
    if year is not None:
        cond.append(extract("year", PublishedRecord.published_at).cast(Integer) == year)
    return exists().where(*cond)


@dataclass(frozen=True)
class Holdings:
    """Active records of the given units, optionally narrowed by the other dimensions."""

    units: tuple[str, ...] = HOLDING_UNITS
    categories: tuple[str, ...] | None = None
    year: int | None = None
    year_before: int | None = None  # 年度 < this (and known)
    year_from: int | None = None  # 年度 ≥ this
    carrier: str | None = None  # "" = 未著录
    carrier_like: str | None = None
    open_status: str | None = None
    generation: str | None = None
    generation_not: str | None = None
    created_year: int | None = None
    created_before: int | None = None
    digitised_only: bool = False  # with at least one record file (电子原文)
    scanned_only: bool = False  # with at least one linked scan page (存量数字化)
    published_only: bool = False  # published on the public portal (上网公布)
    published_year: int | None = None  # published on the portal in this year
    lifecycle: str = ACTIVE

    def narrow(self, **changes: Any) -> Holdings:
        return replace(self, **changes)

    # -- the summary ---------------------------------------------------------------------------

    def _summary_where(self) -> ColumnElement[bool]:
        h = DashboardHolding
        cond: list[ColumnElement[bool]] = [h.lifecycle == self.lifecycle, h.unit.in_(self.units)]
        if self.categories is not None:
            cond.append(h.category.in_(self.categories))
        if self.year is not None:
            cond.append(h.year == self.year)
        if self.year_before is not None:
            cond += [h.year > 0, h.year < self.year_before]
        if self.year_from is not None:
            cond.append(h.year >= self.year_from)
        if self.carrier is not None:
            cond.append(h.carrier == self.carrier)
        if self.carrier_like is not None:
            cond.append(h.carrier.contains(self.carrier_like))
        if self.open_status is not None:
            cond.append(h.open_status == self.open_status)
        if self.generation is not None:
            cond.append(h.generation == self.generation)
        if self.generation_not is not None:
            cond.append(h.generation != self.generation_not)
        if self.created_year is not None:
            cond.append(h.created_year == self.created_year)
        if self.created_before is not None:
            cond.append(h.created_year < self.created_before)
        if self.digitised_only:
            cond.append(h.digitised > 0)
        if self.scanned_only:
            cond.append(h.scanned > 0)
        if self.published_only:
            cond.append(h.published_year > 0)
        if self.published_year is not None:
            cond.append(h.published_year == self.published_year)
        return and_(*cond)

    def _measure(self, measure: Measure) -> str:
        """The summary column holding ``measure`` of the records this filter keeps.

        A row's ``digitised``/``scanned`` count is exact for "records with files/scans"; other
        measures cannot be narrowed to those records from the summary and are refused."""
        if self.digitised_only and self.scanned_only:
            raise ValueError("digitised_only and scanned_only cannot be combined")
        if measure == "records":
            if self.digitised_only:
                return "digitised"
            if self.scanned_only:
                return "scanned"
        elif self.scanned_only and measure != "frames":
            raise ValueError(f"scanned_only with measure {measure}")
        return measure

    def total(self, session: Session, measure: Measure = "records") -> int:
        m = self._measure(measure)
        col = getattr(DashboardHolding, m)
        q = select(func.coalesce(func.sum(col), 0)).where(self._summary_where())
        return int(session.scalar(q) or 0)

    def grouped(
        self, session: Session, dim: str, measure: Measure = "records"
    ) -> list[tuple[Any, int]]:
        """(value of ``dim``, total) pairs, largest dimension value order left to the caller."""
        m = self._measure(measure)
        col = getattr(DashboardHolding, dim)
        q = (
            select(col, func.coalesce(func.sum(getattr(DashboardHolding, m)), 0))
            .where(self._summary_where())
            .group_by(col)
        )
        return [(v, int(n)) for v, n in session.execute(q)]

    # -- the records ---------------------------------------------------------------------------

    def where(self) -> ColumnElement[bool]:
        """The condition on ``records`` (joined to its parent as ``holding_parent``)."""
        r = Record
        in_file = and_(r.level == "item", _PARENT.level == "file")
        unit_cond = []
        for u in self.units:
            if u == "file_item":
                unit_cond.append(in_file)
            elif u == "item":
                unit_cond.append(
                    and_(r.level == "item", or_(_PARENT.level.is_(None), _PARENT.level != "file"))
                )
            else:
                unit_cond.append(r.level == u)
        cond: list[ColumnElement[bool]] = [r.lifecycle == self.lifecycle, or_(*unit_cond)]
        if self.categories is not None:
            cond.append(r.category.in_(self.categories))
        if self.year is not None:
            cond.append(r.year == self.year)
        if self.year_before is not None:
            cond += [r.year > 0, r.year < self.year_before]
        if self.year_from is not None:
            cond.append(r.year >= self.year_from)
        carrier = func.coalesce(func.substr(r.fields["carrier"].as_string(), 1, 32), "")
        if self.carrier is not None:
            cond.append(carrier == self.carrier)
        if self.carrier_like is not None:
            cond.append(carrier.contains(self.carrier_like))
        if self.open_status is not None:
            cond.append(func.coalesce(r.open_status, "") == self.open_status)
        generation = func.coalesce(func.substr(r.fields["generation"].as_string(), 1, 16), "")
        if self.generation is not None:
            cond.append(generation == self.generation)
        if self.generation_not is not None:
            cond.append(generation != self.generation_not)
        created = extract("year", r.created_at).cast(Integer)
        if self.created_year is not None:
            cond.append(created == self.created_year)
        if self.created_before is not None:
            cond.append(created < self.created_before)
        if self.digitised_only:
            cond.append(exists().where(RecordFile.record_id == r.id))
        if self.scanned_only:
            cond.append(exists().where(ScanPage.record_id == r.id))
        if self.published_only or self.published_year is not None:
            cond.append(_published(r.id, self.published_year))
        return and_(true(), *cond)

    def records(self) -> Select[Any]:
        return (
            select(Record)
            .outerjoin(_PARENT, _PARENT.id == Record.parent_id)
            .where(self.where())
            .order_by(Record.id)
        )

    def recount(self, session: Session, measure: Measure = "records") -> int:
        """The measure computed from the records themselves (slow; for checks and tests)."""
        base = select(Record.id).outerjoin(_PARENT, _PARENT.id == Record.parent_id)
        ids = base.where(self.where()).subquery()
        q: Select[Any]
        if measure in ("records", "digitised", "scanned"):
            q = select(func.count()).select_from(ids)
            if measure == "digitised":
                q = q.where(exists().where(RecordFile.record_id == ids.c.id))
            elif measure == "scanned":
                q = q.where(exists().where(ScanPage.record_id == ids.c.id))
        elif measure == "frames":
            q = (
                select(func.count())
                .select_from(ScanPage)
                .where(ScanPage.record_id.in_(select(ids.c.id)))
            )
        elif measure in ("files", "bytes"):
            col = (
                func.count() if measure == "files" else func.coalesce(func.sum(RecordFile.size), 0)
            )
            q = (
                select(col)
                .select_from(RecordFile)
                .where(RecordFile.record_id.in_(select(ids.c.id)))
            )
        elif measure == "pages":
            q = select(func.coalesce(func.sum(Record.pages), 0)).where(
                Record.id.in_(select(ids.c.id))
            )
        else:
            q = select(
                func.coalesce(func.sum(Record.fields["duration_minutes"].as_integer()), 0)
            ).where(Record.id.in_(select(ids.c.id)))
        return int(session.scalar(q) or 0)
