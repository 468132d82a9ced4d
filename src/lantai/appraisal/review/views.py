"""JSON shapes of batches (with progress per round) and items (screening, decisions, opinions).

These are what the API returns and the workbench shows; they are built from the stored rows only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lantai.appraisal.review.batches import APPLIED, batch_rounds
from lantai.appraisal.review.decisions import ItemFilter, filter_clause
from lantai.appraisal.review.opinions import opinion_json, opinions_for
from lantai.security import Actor
from lantai.store import (
    Record,
    ReviewBatch,
    ReviewDecision,
    ReviewItem,
    ReviewTask,
    UnitOpinion,
)

__all__ = ["batch_json", "decision_json", "decisions_for", "effective", "items_page"]


def decision_json(d: ReviewDecision, round_name: str) -> dict[str, Any]:
    return {
        "round": d.round,
        "round_name": round_name,
        "reviewer": d.reviewer,
        "decided_at": d.decided_at.isoformat(),
        "result": d.result,
        "review_due": d.review_due.isoformat() if d.review_due else None,
        "reason": d.reason,
        "basis": d.basis,
        "revision": d.revision,
    }


def decisions_for(
    s: Session, batch_id: int, record_ids: Sequence[int]
) -> dict[int, list[ReviewDecision]]:
    out: dict[int, list[ReviewDecision]] = defaultdict(list)
    for chunk in range(0, len(record_ids), 500):
        for d in s.scalars(
            select(ReviewDecision).where(
                ReviewDecision.batch_id == batch_id,
                ReviewDecision.record_id.in_(list(record_ids[chunk : chunk + 500])),
            )
        ):
            out[d.record_id].append(d)
    return out


def effective(batch: ReviewBatch, decisions: Sequence[ReviewDecision]) -> ReviewDecision | None:
    """The decision of the latest round that decided the item."""
    order = {r.id: i for i, r in enumerate(batch_rounds(batch))}
    return max(decisions, key=lambda d: order.get(d.round, -1), default=None)


def batch_json(s: Session, batch: ReviewBatch) -> dict[str, Any]:
    rounds = batch_rounds(batch)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for rnd, result, n in s.execute(
        select(ReviewDecision.round, ReviewDecision.result, func.count())
        .where(ReviewDecision.batch_id == batch.id)
        .group_by(ReviewDecision.round, ReviewDecision.result)
    ):
        counts[rnd][result] = int(n)
    tasks = {
        t.round: t for t in s.scalars(select(ReviewTask).where(ReviewTask.batch_id == batch.id))
    }
    suggestions = {
        sug: int(n)
        for sug, n in s.execute(
            select(ReviewItem.suggestion, func.count())
            .where(ReviewItem.batch_id == batch.id)
            .group_by(ReviewItem.suggestion)
        )
    }
    no_hits = int(
        s.scalar(
            select(func.count())
            .select_from(ReviewItem)
            .where(ReviewItem.batch_id == batch.id, ReviewItem.hit_count == 0)
        )
        or 0
    )
    progress = []
    for i, r in enumerate(rounds):
        task = tasks.get(r.id)
        decided = sum(counts[r.id].values())
        if batch.state == APPLIED or i < batch.round_index:
            state = task.state if task is not None else "done"
        elif i == batch.round_index:
            state = "current"
        else:
            state = "pending"
        progress.append(
            {
                "id": r.id,
                "name": r.name,
                "perm": r.perm,
                "skippable": r.skippable,
                "unit_opinion_required": r.unit_opinion_required,
                "state": state,
                "assignee": task.assignee if task is not None else None,
                "decided": decided,
                "total": batch.item_count,
                "results": counts[r.id],
            }
        )
    opinions = int(
        s.scalar(
            select(func.count(func.distinct(ReviewItem.record_id)))
            .select_from(ReviewItem)
            .join(UnitOpinion, UnitOpinion.record_id == ReviewItem.record_id)
            .where(
                ReviewItem.batch_id == batch.id,
                (UnitOpinion.batch_id == batch.id) | (UnitOpinion.source == "transfer"),
            )
        )
        or 0
    )
    current = rounds[batch.round_index]
    return {
        "id": batch.id,
        "uid": batch.uid,
        "title": batch.title,
        "fonds_id": batch.fonds_id,
        "year": batch.year,
        "category": batch.category,
        "criteria": batch.criteria,
        "unit": batch.unit,
        "joint_review": batch.joint_review,
        "state": batch.state,
        "state_label": "已生效" if batch.state == APPLIED else "审核中",
        "item_count": batch.item_count,
        "no_hits": no_hits,
        "suggestions": suggestions,
        "unit_opinions": opinions,
        "current_round": None if batch.state == APPLIED else current.id,
        "current_round_name": None if batch.state == APPLIED else current.name,
        "rounds": progress,
        "created_by": batch.created_by,
        "created_at": batch.created_at.isoformat(),
        "updated_at": batch.updated_at.isoformat(),
        "applied_by": batch.applied_by,
        "applied_at": batch.applied_at.isoformat() if batch.applied_at else None,
    }


def items_page(
    s: Session,
    actor: Actor,
    batch: ReviewBatch,
    flt: ItemFilter,
    *,
    offset: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of items matching ``flt`` (in batch order), each with everything the reviewer sees."""
    rounds = {r.id: r.name for r in batch_rounds(batch)}
    cond = filter_clause(batch, flt, actor)
    total = int(
        s.scalar(
            select(func.count())
            .select_from(ReviewItem)
            .join(Record, Record.id == ReviewItem.record_id)
            .where(cond)
        )
        or 0
    )
    rows = list(
        s.execute(
            select(ReviewItem, Record.open_status, Record.level, Record.security_level)
            .join(Record, Record.id == ReviewItem.record_id)
            .where(cond)
            .order_by(ReviewItem.position)
            .offset(offset)
            .limit(limit)
        )
    )
    ids = [row[0].record_id for row in rows]
    decisions = decisions_for(s, batch.id, ids)
    opinions = opinions_for(s, batch.id, ids)
    items = []
    for item, open_status, level, security in rows:
        ds = sorted(decisions.get(item.record_id, []), key=lambda d: list(rounds).index(d.round))
        eff = effective(batch, ds)
        items.append(
            {
                "record_id": item.record_id,
                "position": item.position,
                "archival_code": item.archival_code,
                "title": item.title,
                "year": item.year,
                "category": item.category,
                "level": level,
                "security_level": security,
                "open_status": open_status,
                "screening": {
                    "suggestion": item.suggestion,
                    "suggestion_reason": item.suggestion_reason,
                    "hit_count": item.hit_count,
                    "rule_counts": item.rule_counts,
                    "hits": item.hits,
                },
                "decisions": [decision_json(d, rounds.get(d.round, d.round)) for d in ds],
                "current": decision_json(eff, rounds.get(eff.round, eff.round)) if eff else None,
                "unit_opinions": [opinion_json(o) for o in opinions.get(item.record_id, [])],
                "result": item.result,
                "review_due": item.review_due.isoformat() if item.review_due else None,
            }
        )
    return {"total": total, "offset": offset, "limit": limit, "items": items}
