"""Applying a batch's result to the catalogue once its last round has decided every item.

For each item the last round's decision is written: ``records.open_status`` (开放标识) on the
review unit and on its active 件 (a 案卷's 件 are reviewed with it), the version bumped and the
record stamped, and ``record_open_reviews`` (开放审核日期, and for 延期开放 the 复审日期, which
the candidates read). A legacy ``fields["review_due"]`` is dropped from records that get a row
there. ONE ``catalogue:records:reviewed`` event names every changed record (``record_ids``): the
search indexer re-reads them, so the public portal finds newly 开放 records and never 控制 ones
as soon as the indexer has applied the event. Then ``appraisal:batch:applied`` closes the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.appraisal.review.batches import APPLIED, batch_rounds, get_batch
from lantai.appraisal.review.rounds import ensure_reviewing
from lantai.audit import EventType
from lantai.errors import Conflict
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import (
    Record,
    RecordClosure,
    RecordOpenReview,
    ReviewDecision,
    ReviewItem,
    ReviewTask,
    utcnow,
)

__all__ = ["ApplyResult", "apply_batch"]


@dataclass
class ApplyResult:
    batch_id: int
    reviewed_on: date
    counts: dict[str, int] = field(default_factory=dict)  # result → review units
    record_ids: list[int] = field(default_factory=list)  # every record changed (units + 件)
    skipped: list[int] = field(default_factory=list)  # units no longer active

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "reviewed_on": self.reviewed_on.isoformat(),
            "counts": self.counts,
            "records_changed": len(self.record_ids),
            "skipped": self.skipped,
        }


def _children(s: Session, unit_ids: Sequence[int]) -> dict[int, list[Record]]:
    out: dict[int, list[Record]] = {}
    for chunk in range(0, len(unit_ids), 500):
        for aid, rec in s.execute(
            select(RecordClosure.ancestor_id, Record)
            .join(Record, Record.id == RecordClosure.descendant_id)
            .where(
                RecordClosure.ancestor_id.in_(list(unit_ids[chunk : chunk + 500])),
                RecordClosure.depth > 0,
                Record.lifecycle == "active",
            )
        ):
            out.setdefault(int(aid), []).append(rec)
    return out


def apply_batch(
    inst: Instance, s: Session, actor: Actor, batch_id: int, *, today: date | None = None
) -> ApplyResult:
    """Write the final decisions to the catalogue (see module doc); all or nothing."""
    actor.require(Perm.APPRAISAL_REVIEW_MANAGE)
    today = today or date.today()
    batch = get_batch(s, batch_id)
    ensure_reviewing(batch)
    rounds = batch_rounds(batch)
    last = rounds[-1]
    if batch.round_index != len(rounds) - 1:
        current = rounds[batch.round_index]
        raise Conflict(f"批次还在「{current.name}」，须完成「{last.name}」后才能写入审核结果")
    decisions = {
        d.record_id: d
        for d in s.scalars(
            select(ReviewDecision).where(
                ReviewDecision.batch_id == batch.id, ReviewDecision.round == last.id
            )
        )
    }
    items = list(
        s.scalars(
            select(ReviewItem).where(ReviewItem.batch_id == batch.id).order_by(ReviewItem.position)
        )
    )
    lacking = [i for i in items if i.record_id not in decisions]
    if lacking:
        raise Conflict(f"「{last.name}」还有 {len(lacking)} 件/卷未作结论，不能写入审核结果")
    units = {
        r.id: r
        for chunk in range(0, len(items), 500)
        for r in s.scalars(
            select(Record).where(Record.id.in_([i.record_id for i in items[chunk : chunk + 500]]))
        )
    }
    active = {i.record_id for i in items if units[i.record_id].lifecycle == "active"}
    kids = _children(s, [rid for rid in active if units[rid].level == "file"])
    existing = {
        o.record_id: o
        for chunk in range(0, len(items), 500)
        for o in s.scalars(
            select(RecordOpenReview).where(
                RecordOpenReview.record_id.in_([i.record_id for i in items[chunk : chunk + 500]])
            )
        )
    }
    now = utcnow()
    result = ApplyResult(batch_id=batch.id, reviewed_on=today)
    changes: list[list[Any]] = []
    for item in items:
        if item.record_id not in active:
            result.skipped.append(item.record_id)
            continue
        d = decisions[item.record_id]
        unit = units[item.record_id]
        for rec in [unit, *kids.get(unit.id, [])]:
            changes.append([rec.id, rec.open_status, d.result])
            rec.open_status = d.result
            if rec.fields and "review_due" in rec.fields:
                rec.fields = {k: v for k, v in rec.fields.items() if k != "review_due"}
            rec.version += 1
            rec.updated_at = now
            rec.updated_by = actor.username
            result.record_ids.append(rec.id)
        row = existing.get(unit.id)
        if row is None:
            row = RecordOpenReview(record_id=unit.id)
            s.add(row)
        row.open_status = d.result
        row.reviewed_on = today
        row.review_due = d.review_due
        row.batch_id = batch.id
        row.applied_by = actor.username
        row.applied_at = now
        item.result = d.result
        item.review_due = d.review_due
        result.counts[d.result] = result.counts.get(d.result, 0) + 1
    batch.state = APPLIED
    batch.applied_by = actor.username
    batch.applied_at = now
    batch.updated_at = now
    for task in s.scalars(
        select(ReviewTask).where(ReviewTask.batch_id == batch.id, ReviewTask.state == "open")
    ):
        task.state = "done"
        task.completed_at = now
    s.flush()
    if result.record_ids:
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.CATALOGUE_RECORDS_REVIEWED,
            object_type="records",
            object_id=f"{min(result.record_ids)}-{max(result.record_ids)}",
            detail={
                "batch": batch.id,
                "batch_uid": batch.uid,
                "reviewed_on": today.isoformat(),
                "record_ids": result.record_ids,
                "open_status_changes": changes,  # [record id, old 开放标识, new]
                "review_due": {
                    str(rid): d.review_due.isoformat()
                    for rid, d in decisions.items()
                    if d.review_due is not None
                },
            },
        )
    inst.audit.append(
        s,
        actor=actor.username,
        action=EventType.APPRAISAL_BATCH_APPLIED,
        object_type="review_batch",
        object_id=batch.id,
        detail={
            "round": last.id,
            "reviewed_on": today.isoformat(),
            "counts": result.counts,
            "records_changed": len(result.record_ids),
            "skipped": result.skipped,
        },
    )
    return result
