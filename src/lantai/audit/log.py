"""Appending to and verifying the hash-chained event log.

``AuditLog.append`` adds one row inside the caller's transaction (so an event exists exactly
when the change it describes was committed). Appends are serialised: SQLite write transactions
are ``BEGIN IMMEDIATE``; on PostgreSQL a transaction-level advisory lock is taken. After commit
the new (seq, hash) pairs go to a witness file outside the database, which lets ``verify`` detect
rows removed from the end of the log as well as edits and deletions inside it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lantai.atomicfile import create_once
from lantai.audit.events import EventType, Outcome
from lantai.crypto.chain import GENESIS, chain_hash
from lantai.store import Event, after_commit

__all__ = ["AuditLog", "ChainProblem", "ChainReport", "load_or_create_key"]

_ADVISORY_LOCK = 0x1A47A1  # arbitrary constant naming "the event chain"
_LAST = "lantai_audit_last"


def load_or_create_key(path: Path) -> bytes:
    """The chain key: 32 random bytes kept in the instance's secrets directory (mode 0600)."""
    kept = create_once(path, lambda: secrets.token_bytes(32).hex().encode("ascii"))
    return bytes.fromhex(kept.decode("ascii").strip())


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    message: str


@dataclass
class ChainReport:
    checked: int = 0
    last_seq: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _payload(row: Event) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "ts": row.ts,
        "actor": row.actor,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "outcome": row.outcome,
        "detail": row.detail,
    }


class AuditLog:
    """The event log of one instance: its chain key and witness file."""

    def __init__(self, key: bytes, witness_path: Path | None) -> None:
        self._key = key
        self.witness_path = witness_path

    def append(
        self,
        session: Session,
        *,
        actor: str,
        action: EventType,
        object_type: str,
        object_id: str | int,
        outcome: Outcome = Outcome.SUCCESS,
        detail: dict[str, Any] | None = None,
    ) -> Event:
        """Add one event to the chain inside ``session``'s transaction."""
        txn = session.get_transaction()
        cached = session.info.get(_LAST)
        last = cached[1:] if cached is not None and cached[0] is txn else None
        if last is None:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
            row = session.execute(
                select(Event.seq, Event.hash).order_by(Event.seq.desc()).limit(1)
            ).first()
            last = (row[0], row[1]) if row else (0, GENESIS)
        seq, prev = last[0] + 1, last[1]
        ev = Event(
            seq=seq,
            ts=datetime.now(UTC).isoformat(timespec="microseconds"),
            actor=actor,
            action=action.value,
            object_type=object_type,
            object_id=str(object_id),
            outcome=outcome.value,
            detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
            prev_hash=prev,
        )
        ev.hash = chain_hash(self._key, prev, _payload(ev))
        session.add(ev)
        session.info[_LAST] = (session.get_transaction(), seq, ev.hash)
        if self.witness_path is not None:
            pending: list[tuple[int, str]] = session.info.setdefault("lantai_audit_pending", [])
            if not pending:
                after_commit(session, lambda: self._write_witness(session))
            pending.append((seq, ev.hash))
        return ev

    def _write_witness(self, session: Session) -> None:
        pending = session.info.pop("lantai_audit_pending", [])
        session.info.pop(_LAST, None)
        if not pending or self.witness_path is None:
            return
        self.witness_path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(f"{seq}\t{h}\n" for seq, h in pending).encode("ascii")
        fd = os.open(self.witness_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def forget_cached_head(self, session: Session) -> None:
        """Call after a rollback that kept the session open."""
        session.info.pop(_LAST, None)
        session.info.pop("lantai_audit_pending", None)

    # -- verification ---------------------------------------------------------------------------

    def verify(self, session: Session, *, batch: int = 5000) -> ChainReport:
        """Walk the whole chain; report edited, inserted, deleted and truncated rows."""
        report = ChainReport()
        expected_seq, prev = 1, GENESIS
        for row in self._iter_rows(session, batch):
            report.checked += 1
            if row.seq != expected_seq:
                report.problems.append(
                    ChainProblem(
                        row.seq,
                        f"序号不连续：缺少第 {expected_seq}–{row.seq - 1} 条事件（已被删除）",
                    )
                )
            if row.prev_hash != prev:
                report.problems.append(
                    ChainProblem(row.seq, "前序哈希不符：之前的事件被删除、插入或改动")
                )
            if chain_hash(self._key, row.prev_hash, _payload(row)) != row.hash:
                report.problems.append(
                    ChainProblem(row.seq, "本条事件内容与其哈希不符：事件已被改动")
                )
            expected_seq, prev = row.seq + 1, row.hash
            report.last_seq = row.seq
            if len(report.problems) > 1000:
                break
        self._check_witness(session, report)
        return report

    @staticmethod
    def _iter_rows(session: Session, batch: int) -> Iterator[Event]:
        after = 0
        while True:
            rows = session.scalars(
                select(Event).where(Event.seq > after).order_by(Event.seq).limit(batch)
            ).all()
            if not rows:
                return
            yield from rows
            after = rows[-1].seq
            session.expunge_all()

    def _check_witness(self, session: Session, report: ChainReport) -> None:
        if self.witness_path is None or not self.witness_path.exists():
            return
        witnessed: dict[int, str] = {}
        with self.witness_path.open("r", encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.strip().split("\t")
                if len(parts) == 2 and parts[0].isdigit():
                    witnessed[int(parts[0])] = parts[1]
        if not witnessed:
            return
        top = max(witnessed)
        if top > report.last_seq:
            report.problems.append(
                ChainProblem(
                    top,
                    f"见证文件记录到第 {top} 条事件，数据库只有 {report.last_seq} 条：末尾事件已被删除",
                )
            )
        # Spot-check every witnessed hash against the database.
        seqs = sorted(s for s in witnessed if s <= report.last_seq)
        for i in range(0, len(seqs), 1000):
            chunk = seqs[i : i + 1000]
            rows = {
                int(seq): str(h)
                for seq, h in session.execute(
                    select(Event.seq, Event.hash).where(Event.seq.in_(chunk))
                )
            }
            for s in chunk:
                if s not in rows:
                    continue  # reported by the sequence check
                if rows[s] != witnessed[s]:
                    report.problems.append(
                        ChainProblem(s, "与见证文件中的哈希不符：事件链已被重算或替换")
                    )
