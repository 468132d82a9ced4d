"""审核批次: create a batch from the candidates or an explicit list, with the screening kept.

A batch holds review units (a 案卷, or a 件 not inside a 案卷, as in
:mod:`lantai.appraisal.candidates`). At creation every unit is screened
(:mod:`lantai.appraisal.screening.records`) and the result is stored per item — suggestion, hit
count per rule and the hits without the matched text — so the workbench can filter on "no hits"
or on the suggestion without screening again. A record is in at most one batch under review.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from lantai.appraisal.candidates import find_candidates, load_policy
from lantai.appraisal.review.config import ReviewRules, Round, load_review_rules
from lantai.appraisal.screening.records import screen_units, screener_for
from lantai.audit import EventType
from lantai.errors import NotFound, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import Record, ReviewBatch, ReviewItem, ReviewTask, utcnow

__all__ = [
    "APPLIED",
    "REVIEWING",
    "batch_rounds",
    "create_batch",
    "create_from_candidates",
    "create_from_filter",
    "current_round",
    "get_batch",
    "records_under_review",
    "rules_for",
]

REVIEWING = "reviewing"
APPLIED = "applied"
_MAX_LISTED = 20


def rules_for(inst: Instance) -> ReviewRules:
    return load_review_rules(config_dir=inst.settings.resolved_config_dir)


def get_batch(s: Session, batch_id: int) -> ReviewBatch:
    batch = s.get(ReviewBatch, batch_id)
    if batch is None:
        raise NotFound(f"审核批次 {batch_id} 不存在")
    return batch


def batch_rounds(batch: ReviewBatch) -> list[Round]:
    """The rounds the batch was created with (a later change of the file does not move it)."""
    return [Round.model_validate(r) for r in batch.rounds]


def current_round(batch: ReviewBatch) -> Round:
    return batch_rounds(batch)[batch.round_index]


def records_under_review(s: Session, record_ids: Sequence[int]) -> dict[int, int]:
    """record id → id of the batch under review that holds it, for the given records."""
    out: dict[int, int] = {}
    for chunk in range(0, len(record_ids), 500):
        part = list(record_ids[chunk : chunk + 500])
        for rid, bid in s.execute(
            select(ReviewItem.record_id, ReviewItem.batch_id)
            .join(ReviewBatch, ReviewBatch.id == ReviewItem.batch_id)
            .where(ReviewItem.record_id.in_(part), ReviewBatch.state == REVIEWING)
        ):
            out[int(rid)] = int(bid)
    return out


def _units(s: Session, record_ids: Sequence[int]) -> list[Record]:
    """The given records, checked to be active review units; every problem is reported."""
    parent = aliased(Record)
    found: dict[int, tuple[Record, str | None]] = {}
    for chunk in range(0, len(record_ids), 500):
        part = list(record_ids[chunk : chunk + 500])
        for rec, parent_level in s.execute(
            select(Record, parent.level)
            .outerjoin(parent, parent.id == Record.parent_id)
            .where(Record.id.in_(part))
        ):
            found[rec.id] = (rec, parent_level)
    problems: list[Problem] = []
    units: list[Record] = []
    for rid in record_ids:
        entry = found.get(rid)
        if entry is None:
            problems.append(Problem(field="条目", value=str(rid), message=f"条目 {rid} 不存在"))
            continue
        rec, plevel = entry
        label = rec.archival_code or f"条目 {rid}"
        if rec.lifecycle != "active":
            problems.append(Problem(field="条目", value=label, message=f"{label} 已撤销或销毁"))
        elif rec.level not in ("file", "item"):
            problems.append(
                Problem(field="条目", value=label, message=f"{label} 不是案卷或文件，不能审核")
            )
        elif rec.level == "item" and plevel == "file":
            problems.append(
                Problem(
                    field="条目",
                    value=label,
                    message=f"{label} 是卷内文件，随所在案卷一并审核",
                )
            )
        else:
            units.append(rec)
    if problems:
        raise ValidationFailed("审核批次未建立：部分条目不能列入", problems[:_MAX_LISTED])
    return units


def create_batch(
    inst: Instance,
    s: Session,
    actor: Actor,
    record_ids: Sequence[int],
    *,
    title: str | None = None,
    fonds_id: int | None = None,
    year: int | None = None,
    category: str | None = None,
    criteria: dict[str, Any] | None = None,
    unit: str | None = None,
    joint_review: bool = True,
    rules: ReviewRules | None = None,
) -> ReviewBatch:
    """Create a batch of these review units (screened now), with the task of its first round."""
    actor.require(Perm.APPRAISAL_REVIEW_MANAGE)
    rules = rules or rules_for(inst)
    ids = list(dict.fromkeys(int(r) for r in record_ids))
    if not ids:
        raise ValidationFailed(
            "审核批次未建立", [Problem(field="条目", message="没有列入任何条目")]
        )
    units = _units(s, ids)
    busy = records_under_review(s, ids)
    if busy:
        problems = [
            Problem(field="条目", value=str(rid), message=f"条目 {rid} 已在审核批次 {bid} 中")
            for rid, bid in list(busy.items())[:_MAX_LISTED]
        ]
        raise ValidationFailed(f"审核批次未建立：{len(busy)} 件/卷已在其他审核中的批次里", problems)
    fonds = s.get(Record, fonds_id) if fonds_id is not None else None
    if fonds_id is None and units and all(u.fonds_id == units[0].fonds_id for u in units):
        fonds_id = units[0].fonds_id
        fonds = s.get(Record, fonds_id) if fonds_id is not None else None
    if unit is None and fonds is not None:
        unit = fonds.responsible or fonds.title
    if not title:
        parts = [fonds.archival_code if fonds is not None else None]
        parts += [
            f"{year}年" if year else None,
            inst.domain.category_label(category) if category else None,
        ]
        title = " ".join(p for p in parts if p) + " 开放审核" if any(parts) else "开放审核批次"
    title = title.strip()[:300]
    now = utcnow()
    batch = ReviewBatch(
        uid=str(uuid.uuid4()),
        title=title,
        fonds_id=fonds_id,
        year=year,
        category=category,
        criteria=dict(criteria or {}),
        unit=(unit or None) and unit[:200],
        joint_review=joint_review,
        rounds=[r.to_dict() for r in rules.rounds],
        round_index=0,
        state=REVIEWING,
        item_count=len(units),
        created_by=actor.username,
        created_at=now,
        updated_at=now,
    )
    s.add(batch)
    s.flush()
    screener = screener_for(inst)
    by_id = {u.id: u for u in units}
    suggestions: dict[str, int] = {}
    items = []
    for position, result in enumerate(screen_units(s, screener, units)):
        rec = by_id[int(result.record_id or 0)]
        suggestions[result.suggestion] = suggestions.get(result.suggestion, 0) + 1
        items.append(
            ReviewItem(
                batch_id=batch.id,
                record_id=rec.id,
                position=position,
                archival_code=rec.archival_code,
                title=rec.title,
                year=rec.year,
                category=rec.category,
                suggestion=result.suggestion,
                suggestion_reason=result.suggestion_reason,
                hit_count=len(result.hits),
                rule_counts=result.rule_counts,
                hits=[h.to_dict(include_text=False) for h in result.hits],
            )
        )
    s.add_all(items)
    s.add(ReviewTask(batch_id=batch.id, round=rules.rounds[0].id, state="open"))
    s.flush()
    inst.audit.append(
        s,
        actor=actor.username,
        action=EventType.APPRAISAL_BATCH_CREATED,
        object_type="review_batch",
        object_id=batch.id,
        detail={
            "uid": batch.uid,
            "title": title,
            "count": len(units),
            "criteria": batch.criteria,
            "unit": batch.unit,
            "joint_review": joint_review,
            "rounds": [r.name for r in rules.rounds],
            "suggestions": suggestions,
            "record_ids": [u.id for u in units],
        },
    )
    return batch


def create_from_candidates(
    inst: Instance,
    s: Session,
    actor: Actor,
    *,
    fonds_id: int,
    year: int | None = None,
    category: str | None = None,
    today: date | None = None,
    title: str | None = None,
    unit: str | None = None,
    joint_review: bool = True,
) -> ReviewBatch:
    """A batch of the current candidates of one fonds (and 形成年度, 门类), leaving out records
    already in a batch under review."""
    actor.require(Perm.APPRAISAL_REVIEW_MANAGE)
    policy = load_policy(config_dir=inst.settings.resolved_config_dir)
    report = find_candidates(s, policy, today=today, fonds_id=fonds_id, year=year)
    chosen = [c for c in report.candidates if category is None or c.category == category]
    ids = [c.record_id for c in chosen]
    busy = records_under_review(s, ids)
    ids = [i for i in ids if i not in busy]
    if not ids:
        raise ValidationFailed(
            "审核批次未建立",
            [
                Problem(
                    field="候选范围",
                    message="没有符合条件、且不在其他审核批次中的候选条目"
                    + (f"（{len(busy)} 件/卷已在审核中）" if busy else ""),
                )
            ],
        )
    reasons: dict[str, int] = {}
    for c in chosen:
        if c.record_id not in busy:
            reasons[c.reason] = reasons.get(c.reason, 0) + 1
    criteria = {
        "source": "candidates",
        "as_of": report.as_of.isoformat(),
        "fonds_id": fonds_id,
        "year": year,
        "category": category,
        "reasons": reasons,
        "already_in_review": len(busy),
    }
    return create_batch(
        inst,
        s,
        actor,
        ids,
        title=title,
        fonds_id=fonds_id,
        year=year,
        category=category,
        criteria=criteria,
        unit=unit,
        joint_review=joint_review,
    )


def create_from_filter(
    inst: Instance,
    s: Session,
    actor: Actor,
    *,
    fonds_id: int,
    year: int | None = None,
    category: str | None = None,
    include_open: bool = False,
    title: str | None = None,
    unit: str | None = None,
    joint_review: bool = True,
) -> ReviewBatch:
    """A batch of the review units of one fonds chosen by an explicit filter (年度 column, 门类),
    whatever their age — e.g. a re-review; already 开放 units only with ``include_open``."""
    from lantai.appraisal.screening.records import review_units

    actor.require(Perm.APPRAISAL_REVIEW_MANAGE)
    units = [
        u
        for u in review_units(s, fonds_id, year)
        if (category is None or u.category == category)
        and (include_open or u.open_status != "开放")
    ]
    busy = records_under_review(s, [u.id for u in units])
    ids = [u.id for u in units if u.id not in busy]
    if not ids:
        raise ValidationFailed(
            "审核批次未建立",
            [Problem(field="筛选条件", message="没有符合条件、且不在其他审核批次中的条目")],
        )
    criteria = {
        "source": "filter",
        "fonds_id": fonds_id,
        "year": year,
        "category": category,
        "include_open": include_open,
        "already_in_review": len(busy),
    }
    return create_batch(
        inst,
        s,
        actor,
        ids,
        title=title,
        fonds_id=fonds_id,
        year=year,
        category=category,
        criteria=criteria,
        unit=unit,
        joint_review=joint_review,
    )
