"""Adding the full text of a record (全文): the one write path into ``record_texts``.

Text extraction (PDF/OFD/DOCX/TXT at ingest) and OCR call :func:`add_text`; it validates, stores
one row per (record, part) — a new text for an existing part replaces it — and appends a
``catalogue:text:added`` event in the same transaction, through which the search indexer picks
the text up. Nothing is written when any check fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.audit import EventType
from lantai.errors import Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import RecordText, utcnow

__all__ = ["MAX_TEXT_CHARS", "TextSource", "add_text", "texts_of"]

MAX_TEXT_CHARS = 10_000_000
MAX_PART_CHARS = 200


class TextSource(StrEnum):
    EXTRACTED = "extracted"  # from a born-digital file (PDF, OFD, DOCX, TXT)
    OCR = "ocr"  # 文字识别 of scanned pages
    ASR = "asr"  # 语音识别 of audio
    SEED = "seed"  # demo and test material
    MANUAL = "manual"  # typed or corrected by an archivist


@contextmanager
def _session(inst: Instance, session: Session | None) -> Iterator[Session]:
    if session is not None:
        yield session
        return
    with inst.db.write() as s:
        yield s


def _check(part: str, source: str, text: str) -> list[Problem]:
    problems = []
    if not part.strip():
        problems.append(Problem(field="part", rule="全文", message="须说明全文出自哪一部分"))
    elif len(part) > MAX_PART_CHARS:
        problems.append(
            Problem(field="part", rule="全文", message=f"部分名称不能超过 {MAX_PART_CHARS} 个字符")
        )
    if source not in {s.value for s in TextSource}:
        allowed = "、".join(s.value for s in TextSource)
        problems.append(
            Problem(field="source", value=source, rule="全文", message=f"来源应为：{allowed}")
        )
    if not text.strip():
        problems.append(Problem(field="text", rule="全文", message="全文为空"))
    elif len(text) > MAX_TEXT_CHARS:
        problems.append(
            Problem(
                field="text",
                rule="全文",
                message=f"全文长 {len(text)} 个字符，超过上限 {MAX_TEXT_CHARS}",
            )
        )
    if "\x00" in text:
        problems.append(Problem(field="text", rule="全文", message="全文含有 NUL 字符"))
    return problems


def add_text(
    inst: Instance,
    actor: Actor,
    record_id: int,
    part: str,
    source: str,
    text: str,
    *,
    session: Session | None = None,
) -> RecordText:
    """Store the text of one part of a record and log it; returns the stored row.

    Pass ``session`` to take part in the caller's transaction; otherwise one is opened.
    The same text added again for the same part changes nothing and logs nothing.
    """
    actor.require(Perm.CATALOGUE_RECORD_EDIT)
    part = part.strip()
    problems = _check(part, source, text)
    if problems:
        raise ValidationFailed("全文未保存", problems)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with _session(inst, session) as s:
        record = inst.catalogue.get(s, actor, record_id)
        row = s.scalar(
            select(RecordText).where(RecordText.record_id == record.id, RecordText.part == part)
        )
        replaced = None
        if row is not None:
            if row.sha256 == digest and row.source == source:
                return row
            replaced = row.sha256
            row.text, row.sha256, row.source, row.created_at = text, digest, source, utcnow()
        else:
            row = RecordText(
                record_id=record.id, part=part, source=source, text=text, sha256=digest
            )
            s.add(row)
        s.flush()
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.CATALOGUE_TEXT_ADDED,
            object_type="record",
            object_id=record.id,
            detail={
                "archival_code": record.archival_code,
                "part": part,
                "source": source,
                "sha256": digest,
                "chars": len(text),
                "replaced": replaced,
            },
        )
        return row


def texts_of(session: Session, record_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(part, text) of each record, parts in the order they were first added."""
    out: dict[int, list[tuple[str, str]]] = {}
    for i in range(0, len(record_ids), 500):
        chunk = record_ids[i : i + 500]
        q = (
            select(RecordText.record_id, RecordText.part, RecordText.text)
            .where(RecordText.record_id.in_(chunk))
            .order_by(RecordText.record_id, RecordText.id)
        )
        for rid, part, text in session.execute(q):
            out.setdefault(int(rid), []).append((part, text))
    return out
