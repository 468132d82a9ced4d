"""Working days (工作日) for the 4 + 2 working-day deadlines: weekends and holidays as data.

A day is a working day when it is a 调休 working day (``workdays``), or a Monday–Friday that is
not a statutory holiday. ``add_workdays(d, n)`` is the n-th working day after ``d`` (``d`` itself
does not count: a request received on Friday with 4 working days is due on Thursday).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = ["WorkCalendar"]


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_workday(self, d: date) -> bool:
        if d in self.workdays:
            return True
        return d.weekday() < 5 and d not in self.holidays

    def add_workdays(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``n`` ≥ 0; 0 gives ``start``)."""
        if n < 0:
            raise ValueError("n must not be negative")
        d, left = start, n
        while left:
            d += timedelta(days=1)
            if self.is_workday(d):
                left -= 1
        return d

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        if end < start:
            return -self.workdays_between(end, start)
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            count += self.is_workday(d)
        return count
