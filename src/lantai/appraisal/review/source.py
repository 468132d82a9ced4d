"""What a reviewer reads for one item of a batch: catalogue values and full texts, as screened.

The screening stored with the item (``review_items.hits``) points into these values and texts
by (record, field or text part, character offsets); the workbench highlights the hits with them.
For a 案卷 the active 件 inside it come too, in catalogue order, as the screening saw them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.appraisal.review.decisions import ItemFilter, filter_clause
from lantai.appraisal.screening.records import record_values
from lantai.errors import NotFound
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import Record, RecordClosure, RecordText, ReviewBatch, ReviewItem

__all__ = ["MAX_TEXT_CHARS", "item_source"]

# A text longer than this is cut for display (hits beyond it are still listed, not highlighted).
MAX_TEXT_CHARS = 2_000_000


def _labels(inst: Instance) -> dict[str, str]:
    labels = {"category": "门类"}
    for scheme in inst.domain.schemes.values():
        for e in scheme.elements:
            labels.setdefault(e.key, e.name)
    return labels


def _record_json(
    rec: Record, texts: list[tuple[str, str]], labels: dict[str, str]
) -> dict[str, Any]:
    values = [
        {"key": k, "label": labels.get(k, k), "value": v if isinstance(v, str) else str(v)}
        for k, v in record_values(rec).items()
        if v is not None and v != "" and not isinstance(v, dict | list)
    ]
    return {
        "record_id": rec.id,
        "archival_code": rec.archival_code,
        "title": rec.title,
        "level": rec.level,
        "values": values,
        "texts": [
            {
                "part": part,
                "text": text[:MAX_TEXT_CHARS],
                "length": len(text),
                "truncated": len(text) > MAX_TEXT_CHARS,
            }
            for part, text in texts
        ],
    }


def item_source(
    inst: Instance, s: Session, actor: Actor, batch: ReviewBatch, record_id: int
) -> dict[str, Any]:
    """The item's record (and its 件) with values and texts; NotFound when the item is not in the
    batch or above the actor's 密级授权 (the same rule as the item list); 件 above it are left out."""
    cond = filter_clause(batch, ItemFilter(record_ids=(record_id,)), actor)
    visible = s.scalar(
        select(ReviewItem.record_id).join(Record, Record.id == ReviewItem.record_id).where(cond)
    )
    if visible is None:
        raise NotFound(f"审核批次「{batch.title}」中没有条目 {record_id}")
    rec = s.get(Record, record_id)
    if rec is None:  # pragma: no cover - review_items reference records
        raise NotFound(f"条目 {record_id} 不存在")
    records = [rec]
    if rec.level == "file":
        records += list(
            s.scalars(
                select(Record)
                .join(RecordClosure, RecordClosure.descendant_id == Record.id)
                .where(
                    RecordClosure.ancestor_id == rec.id,
                    RecordClosure.depth > 0,
                    Record.lifecycle == "active",
                    Record.security_rank <= actor.clearance_rank,
                )
                .order_by(Record.position, Record.id)
            )
        )
    texts: dict[int, list[tuple[str, str]]] = {r.id: [] for r in records}
    for rid, part, text in s.execute(
        select(RecordText.record_id, RecordText.part, RecordText.text)
        .where(RecordText.record_id.in_(list(texts)))
        .order_by(RecordText.record_id, RecordText.part)
    ):
        texts[rid].append((part, text))
    labels = _labels(inst)
    return {
        "record_id": rec.id,
        "batch_id": batch.id,
        "records": [_record_json(r, texts[r.id], labels) for r in records],
    }
