"""档号 counters: consecutive within a group, never reused, safe under concurrent writers.

The counter row is incremented inside the transaction that inserts the record. On PostgreSQL the
``UPDATE … RETURNING`` takes a row lock that a concurrent writer waits on (and then sees the new
value, under READ COMMITTED); on SQLite write transactions are ``BEGIN IMMEDIATE`` and so already
serialised. A rolled-back insert rolls back its increment, so numbers stay consecutive.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["advance_counter", "current_counter", "next_counter"]


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
