"""What a backup must bring back: counts, the audit chain head and digests over the catalogue.

:func:`collect_facts` reads them from one session (the snapshot a backup was taken from, or a
restored copy), so the same function describes the original at backup time and the restored
instance in a restorability test; the two must be equal (DA/T 70 BC-3-4).

* ``counts``: records per level and per lifecycle, events, preserved files (record_files), full
  texts, transfers, users;
* ``audit_head``: ``{"seq", "hash"}`` of the last event (the HMAC-SM3 chain covers every event);
* ``records_digest``: SHA-256 over the sorted rows ``(id, archival_code, title, lifecycle,
  version, updated_at)`` of every record;
* ``files_digest``: SHA-256 over the sorted rows ``(id, record_id, aip_id, path, size, sha256,
  sm3)`` of every preserved file, so every content digest the catalogue holds is compared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lantai.store import Event, IngestTransfer, Record, RecordFile, RecordText, User

__all__ = ["collect_facts", "compare_facts"]

_BATCH = 5000


def _digest_rows(rows: Iterable[tuple[Any, ...]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(json.dumps(row, ensure_ascii=False, default=str).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _keyset(session: Session, columns: tuple[Any, ...], key: Any) -> Iterable[tuple[Any, ...]]:
    after = 0
    while True:
        rows = session.execute(
            select(*columns).where(key > after).order_by(key).limit(_BATCH)
        ).all()
        if not rows:
            return
        for r in rows:
            yield tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in r)
        after = rows[-1][0]


def collect_facts(session: Session) -> dict[str, Any]:
    """Counts, audit chain head and catalogue digests as seen by ``session``."""
    levels = {
        f"{level}/{lifecycle}": int(n)
        for level, lifecycle, n in session.execute(
            select(Record.level, Record.lifecycle, func.count()).group_by(
                Record.level, Record.lifecycle
            )
        )
    }

    def count(model: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)

    head = session.execute(
        select(Event.seq, Event.hash).order_by(Event.seq.desc()).limit(1)
    ).first()
    return {
        "counts": {
            "records": dict(sorted(levels.items())),
            "events": count(Event),
            "record_files": count(RecordFile),
            "record_texts": count(RecordText),
            "transfers": count(IngestTransfer),
            "users": count(User),
        },
        "audit_head": {"seq": int(head[0]), "hash": head[1]} if head else {"seq": 0, "hash": ""},
        "records_digest": _digest_rows(
            _keyset(
                session,
                (
                    Record.id,
                    Record.archival_code,
                    Record.title,
                    Record.lifecycle,
                    Record.version,
                    Record.updated_at,
                ),
                Record.id,
            )
        ),
        "files_digest": _digest_rows(
            _keyset(
                session,
                (
                    RecordFile.id,
                    RecordFile.record_id,
                    RecordFile.aip_id,
                    RecordFile.path,
                    RecordFile.size,
                    RecordFile.sha256,
                    RecordFile.sm3,
                ),
                RecordFile.id,
            )
        ),
    }


_LABELS = {
    "counts": "数量",
    "audit_head": "审计链末条",
    "records_digest": "条目摘要",
    "files_digest": "电子文件摘要",
}


def compare_facts(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Differences between two fact sets, in Chinese, one line per differing part."""
    out = []
    for key, label in _LABELS.items():
        if expected.get(key) != actual.get(key):
            out.append(f"{label}不一致：备份时 {expected.get(key)}，恢复后 {actual.get(key)}")
    return out
