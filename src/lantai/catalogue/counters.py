"""档号 counters: consecutive within a group, never reused, safe under concurrent writers.

The counter row is incremented inside the transaction that inserts the record. On PostgreSQL the
``UPDATE … RETURNING`` takes a row lock that a concurrent writer waits on (and then sees the new
value, under READ COMMITTED); on SQLite write transactions are ``BEGIN IMMEDIATE`` and so already
serialised. A rolled-back insert rolls back its increment, so numbers stay consecutive.

Bulk writers (:meth:`lantai.catalogue.Catalogue.create_records`) :func:`lock_counters` of every
group they use (in group-key order, so two bulk writers cannot deadlock on each other), number
their records in memory, and :func:`set_counters` to the last number used before committing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["advance_counter", "current_counter", "lock_counters", "next_counter", "set_counters"]


def next_counter(session: Session, group_key: str, start: int = 1, *, known: bool = False) -> int:
    """Allocate the next number of ``group_key`` (``start`` for a new group).

    ``known=True`` skips creating the row: the caller saw it in this transaction already.
    """
    if not known:
        session.execute(
            text(
                "INSERT INTO code_counters (group_key, value) VALUES (:k, :v) "
                "ON CONFLICT (group_key) DO NOTHING"
            ),
            {"k": group_key, "v": start - 1},
        )
    value = session.execute(
        text("UPDATE code_counters SET value = value + 1 WHERE group_key = :k RETURNING value"),
        {"k": group_key},
    ).scalar_one()
    return int(value)


def advance_counter(session: Session, group_key: str, used: int) -> None:
    """Record that ``used`` was taken explicitly (an imported 档号): the counter never goes below it."""
    greatest = "MAX" if session.get_bind().dialect.name == "sqlite" else "GREATEST"
    session.execute(
        text(
            "INSERT INTO code_counters (group_key, value) VALUES (:k, :v) "
            f"ON CONFLICT (group_key) DO UPDATE SET value = {greatest}(code_counters.value, excluded.value)"
        ),
        {"k": group_key, "v": used},
    )


def current_counter(session: Session, group_key: str) -> int | None:
    value = session.execute(
        text("SELECT value FROM code_counters WHERE group_key = :k"), {"k": group_key}
    ).scalar()
    return None if value is None else int(value)


def lock_counters(session: Session, starts: Mapping[str, int]) -> dict[str, int]:
    """The current value of each group (``start - 1`` for a new one), locked until commit.

    The ``UPDATE … RETURNING`` that reads a value takes its row lock on PostgreSQL; a concurrent
    writer of the same group waits for this transaction and then reads what it stored.
    """
    out: dict[str, int] = {}
    for key in sorted(starts):
        session.execute(
            text(
                "INSERT INTO code_counters (group_key, value) VALUES (:k, :v) "
                "ON CONFLICT (group_key) DO NOTHING"
            ),
            {"k": key, "v": starts[key] - 1},
        )
        value = session.execute(
            text("UPDATE code_counters SET value = value WHERE group_key = :k RETURNING value"),
            {"k": key},
        ).scalar_one()
        out[key] = int(value)
    return out


def set_counters(session: Session, values: Mapping[str, int]) -> None:
    """Store the last number used in each group (locked by :func:`lock_counters`; never lower)."""
    greatest = "MAX" if session.get_bind().dialect.name == "sqlite" else "GREATEST"
    params = [{"k": k, "v": v} for k, v in sorted(values.items())]
    if params:
        session.execute(
            text(f"UPDATE code_counters SET value = {greatest}(value, :v) WHERE group_key = :k"),
            params,
        )
