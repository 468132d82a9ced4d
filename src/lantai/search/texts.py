"""Adding the full text of a record (全文): the one write path into ``record_texts``.

Text extraction (PDF/OFD/DOCX/TXT at ingest) and OCR call :func:`add_text`; it validates, stores
one row per (record, part) — a new text for an existing part replaces it — and appends a
``catalogue:text:added`` event in the same transaction, through which the search indexer picks
the text up. Nothing is written when any check fails.

:func:`add_texts` does the same for many texts at once (an ingest): the same checks for every
text, one statement per kind of write, and ONE ``catalogue:texts:added`` event whose
``record_ids`` the indexer re-indexes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from lantai.audit import EventType
from lantai.errors import NotFound, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import Record, RecordText, utcnow

__all__ = ["MAX_TEXT_CHARS", "NewText", "TextSource", "add_text", "add_texts", "texts_of"]

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
    if not text or text.isspace():  # no copy of a long text (strip would make one)
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


NewText = tuple[int, str, str, str]  # record id, part, source, text


def add_texts(
    inst: Instance,
    actor: Actor,
    items: Sequence[NewText],
    *,
    session: Session | None = None,
    event_detail: Mapping[str, object] | None = None,
) -> int:
    """Store many texts, ``(record_id, part, source, text)`` each: all of them or none.

    Every item gets the checks of :func:`add_text` (its problems carry ``row`` = its 1-based
    position), a (record, part) may appear once, and every record must exist and be visible to
    ``actor`` (NotFound otherwise). Texts equal to the stored ones are left alone; the others are
    inserted or replace the stored text of their part. ONE ``catalogue:texts:added`` event
    (object ``records``, ``<first id>-<last id>``) lists ``record_ids`` and, per text,
    ``[record_id, part, source, sha256, chars, replaced sha256]``. Returns how many were stored.
    """
    actor.require(Perm.CATALOGUE_RECORD_EDIT)
    actor.require(Perm.CATALOGUE_RECORD_READ)  # add_text reads each record through the catalogue
    problems: list[Problem] = []
    clean: dict[tuple[int, str], tuple[str, str, str]] = {}
    for row, (record_id, raw_part, source, text) in enumerate(items, 1):
        part = raw_part.strip()
        found = _check(part, source, text)
        if (record_id, part) in clean:
            found.append(Problem(field="part", value=part, rule="全文", message="同一部分重复"))
        problems += [replace(p, row=row) for p in found]
        clean[(record_id, part)] = (source, text, hashlib.sha256(text.encode("utf-8")).hexdigest())
    if problems:
        raise ValidationFailed("全文未保存", problems)
    if not clean:
        return 0
    with _session(inst, session) as s:
        ids = sorted({record_id for record_id, _ in clean})
        visible: set[int] = set()
        stored: dict[tuple[int, str], tuple[int, str, str]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            visible.update(
                s.scalars(
                    select(Record.id).where(Record.id.in_(chunk), inst.catalogue.visible(actor))
                )
            )
            q = select(
                RecordText.id,
                RecordText.record_id,
                RecordText.part,
                RecordText.sha256,
                RecordText.source,
            ).where(RecordText.record_id.in_(chunk))
            for text_id, rid, part, digest, source in s.execute(q):
                stored[(int(rid), part)] = (int(text_id), digest, source)
        missing = [i for i in ids if i not in visible]
        if missing:
            raise NotFound(f"条目 {missing[0]} 不存在或无权查看")
        now = utcnow()
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        logged: list[list[object]] = []
        changed: set[int] = set()
        for (record_id, part), (source, text, digest) in clean.items():
            old = stored.get((record_id, part))
            if old is not None and old[1] == digest and old[2] == source:
                continue
            if old is None:
                inserts.append(
                    {
                        "record_id": record_id,
                        "part": part,
                        "source": source,
                        "text": text,
                        "sha256": digest,
                        "created_at": now,
                    }
                )
            else:
                updates.append(
                    {
                        "id": old[0],
                        "text": text,
                        "sha256": digest,
                        "source": source,
                        "created_at": now,
                    }
                )
            logged.append([record_id, part, source, digest, len(text), old[1] if old else None])
            changed.add(record_id)
        if not logged:
            return 0
        s.flush()
        if inserts:
            s.execute(insert(RecordText), inserts)
        if updates:
            s.execute(update(RecordText), updates)
        record_ids = sorted(changed)
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.CATALOGUE_TEXTS_ADDED,
            object_type="records",
            object_id=f"{record_ids[0]}-{record_ids[-1]}",
            detail={**(event_detail or {}), "record_ids": record_ids, "texts": logged},
        )
        return len(logged)


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
