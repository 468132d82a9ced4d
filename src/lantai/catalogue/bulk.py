"""Writing many already-validated ``records`` rows at once: 档号 numbers, ids, rows, closure rows.

Used by :meth:`lantai.catalogue.Catalogue.create_records` (validation and the event stay there).
:func:`number_codes` numbers the 档号 of a batch in order, per counter group, with the counter
rows locked (:func:`~lantai.catalogue.counters.lock_counters`) and set to the last number used;
a number found already in use (written with another rule, or by a direct edit) is skipped. Ids are allocated up front — ``max(id) + 1 …`` under SQLite's write lock (the range is
then contiguous), the ``records`` sequence on PostgreSQL — so the rows go in with one
``exec_driver_sql`` executemany, with values already in the form the columns store (the JSON and
timestamp columns through their own bind processors), and the closure rows with two
``INSERT … SELECT`` statements. Every parent must already exist (with its closure rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lantai.archival.archival_code import CodeRule
from lantai.catalogue.counters import lock_counters, set_counters
from lantai.errors import Conflict, Problem, ValidationFailed
from lantai.store import Record

__all__ = ["CodeRequest", "RowWriter", "codes_taken", "number_codes"]


@dataclass(frozen=True, kw_only=True)
class CodeRequest:
    """How one record of a batch gets its 档号: a new number of ``group``, or a given one."""

    rule: CodeRule
    group: str
    prefix: str = ""
    given: int | None = None  # the counter value of a 档号 given with the record
    given_code: str | None = None


def codes_taken(session: Session, codes: Sequence[str]) -> set[str]:
    """Which of ``codes`` some record already has."""
    out: set[str] = set()
    unique = sorted(set(codes))
    for i in range(0, len(unique), 500):
        chunk = unique[i : i + 500]
        out.update(
            str(c)
            for c in session.scalars(
                select(Record.archival_code).where(Record.archival_code.in_(chunk))
            )
        )
    return out


def _format(rule: CodeRule, prefix: str, n: int) -> str:
    try:
        return rule.format(prefix, n)
    except ValueError as exc:  # the counter outgrew its width
        raise ValidationFailed(
            "条目未保存", [Problem(field="档号", rule="GD-1-7 档号规范性", message=str(exc))]
        ) from exc


def number_codes(
    session: Session, requests: Sequence[CodeRequest | None]
) -> tuple[dict[int, str], dict[int, list[str]]]:
    """New 档号 by position in ``requests`` (None: no 档号 rule), and the numbers skipped.

    In order, as if the records were created one by one: a given 档号 moves its group's counter
    up to it, a new one takes the next free number. The counter rows stay locked until commit.
    """
    starts = {r.group: r.rule.counter.start for r in requests if r is not None}
    if not starts:
        return {}, {}
    current = lock_counters(session, starts)
    in_use: set[str] = set()  # numbers found taken in the database
    free: set[str] = set()  # numbers checked and free
    for _ in range(10_000):
        values = dict(current)
        codes: dict[int, str] = {}
        skipped: dict[int, list[str]] = {}
        mine = {r.given_code for r in requests if r is not None and r.given_code}
        for n, r in enumerate(requests):
            if r is None:
                continue
            if r.given is not None:
                values[r.group] = max(values[r.group], r.given)
                continue
            values[r.group] += 1
            code = _format(r.rule, r.prefix, values[r.group])
            while code in in_use or code in mine:
                skipped.setdefault(n, []).append(code)
                values[r.group] += 1
                code = _format(r.rule, r.prefix, values[r.group])
            codes[n] = code
            mine.add(code)
        unknown = [c for c in codes.values() if c not in free]
        clash = codes_taken(session, unknown)
        if not clash:
            break
        in_use |= clash
        free.update(c for c in unknown if c not in clash)
    else:  # pragma: no cover - 10,000 rounds each finding another number in use
        raise Conflict("档号组中连续 10000 个号码均已被占用")
    set_counters(session, {g: v for g, v in values.items() if v != current[g]})
    return codes, skipped


_JSON_COLUMNS = frozenset({"fields"})
_TIME_COLUMNS = frozenset({"created_at", "updated_at"})


class RowWriter:
    """Dialect-specific id allocation, row insert and closure insert for ``records``."""

    def __init__(self, session: Session) -> None:
        dialect = session.get_bind().dialect
        self.postgres = dialect.name == "postgresql"
        table = Record.__table__
        self.columns = [c.name for c in table.columns]
        quote = dialect.identifier_preparer.quote
        mark = "%s" if dialect.paramstyle in ("format", "pyformat") else "?"
        self.insert_sql = (
            f"INSERT INTO records ({', '.join(quote(c) for c in self.columns)}) "
            f"VALUES ({', '.join(mark for _ in self.columns)})"
        )
        self._process = {
            name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in _JSON_COLUMNS | _TIME_COLUMNS
        }

    def ids(self, session: Session, n: int) -> list[int]:
        """``n`` new record ids, ascending."""
        if self.postgres:
            seq = session.scalar(text("SELECT pg_get_serial_sequence('records', 'id')"))
            return sorted(
                int(i)
                for i in session.scalars(
                    text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                    {"seq": seq, "n": n},
                )
            )
        top = session.scalar(select(func.coalesce(func.max(Record.id), 0))) or 0
        return list(range(top + 1, top + n + 1))

    def insert(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows given as column → Python value (missing columns are NULL)."""
        params = []
        for row in rows:
            values = []
            for name in self.columns:
                value = row.get(name)
                process = self._process.get(name)
                if process is not None and value is not None:
                    value = process(value)
                values.append(value)
            params.append(tuple(values))
        if params:
            session.connection().exec_driver_sql(self.insert_sql, params)

    def closure(self, session: Session, ids: Sequence[int]) -> None:
        """Closure rows of the new records: itself at depth 0, then each ancestor of its parent."""
        if not ids:
            return
        params: dict[str, Any]
        if self.postgres:
            where, params = "r.id = ANY(:ids)", {"ids": list(ids)}
        else:  # contiguous: allocated as max(id) + 1 … under the write lock
            where, params = "r.id BETWEEN :lo AND :hi", {"lo": ids[0], "hi": ids[-1]}
        session.execute(
            text(
                "INSERT INTO record_closure (ancestor_id, descendant_id, depth) "
                f"SELECT r.id, r.id, 0 FROM records r WHERE {where}"
            ),
            params,
        )
        session.execute(
            text(
                "INSERT INTO record_closure (ancestor_id, descendant_id, depth) "
                "SELECT c.ancestor_id, r.id, c.depth + 1 FROM records r "
                f"JOIN record_closure c ON c.descendant_id = r.parent_id WHERE {where}"
            ),
            params,
        )
