"""形成/移交单位意见 (档案法第三十条): opinions from the unit's list or sent with a transfer.

An opinion belongs to a record. ``source = "unit"`` opinions come back with a batch's list (see
:mod:`lantai.appraisal.review.unit_xlsx`) and replace the unit's earlier opinion on the same record
in that batch; ``source = "transfer"`` opinions arrive with a transfer (开放审核意见 per item) and
are kept for every later batch holding the record. Each recording is one event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lantai.audit import EventType
from lantai.errors import Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import ReviewBatch, UnitOpinion, utcnow

__all__ = [
    "OpinionRow",
    "opinion_json",
    "opinions_for",
    "parse_opinion",
    "record_transfer_opinions",
    "record_unit_opinions",
]

# Words a unit may write for 控制 (parse_opinion only; the list import accepts the results).
_CONTROL_WORDS = ("不开放", "不宜开放", "暂不开放")


@dataclass(frozen=True, kw_only=True)
class OpinionRow:
    record_id: int
    opinion: str | None
    reason: str = ""
    raw: str = ""


def parse_opinion(text: str, results: Sequence[str]) -> tuple[str | None, str]:
    """(result, reason) read from a free-text opinion such as 「建议控制：涉及个人隐私」.

    The longest result named in the text wins (延期开放 before 开放); 不开放 / 暂不开放 count as 控制.
    Without a recognisable result the opinion is kept as text only (result None).
    """
    t = " ".join(text.split())
    if not t:
        return None, ""
    found: str | None = None
    if any(w in t for w in _CONTROL_WORDS) and "控制" in results:
        found = "控制"
    else:
        for r in sorted(results, key=len, reverse=True):
            if r in t:
                found = r
                break
    return found, t


def record_unit_opinions(
    inst: Instance,
    s: Session,
    actor: Actor,
    batch: ReviewBatch,
    rows: Sequence[OpinionRow],
    *,
    unit: str,
    detail: dict[str, Any] | None = None,
) -> int:
    """Store the unit's opinions for records of ``batch`` (replacing its earlier ones)."""
    actor.require(Perm.APPRAISAL_REVIEW_MANAGE)
    unit = unit.strip()
    if not unit:
        raise ValidationFailed(
            "单位意见未保存", [Problem(field="单位名称", message="须填写形成/移交单位名称")]
        )
    ids = [r.record_id for r in rows]
    for chunk in range(0, len(ids), 500):
        s.execute(
            delete(UnitOpinion).where(
                UnitOpinion.batch_id == batch.id,
                UnitOpinion.source == "unit",
                UnitOpinion.record_id.in_(ids[chunk : chunk + 500]),
            )
        )
    now = utcnow()
    s.add_all(
        UnitOpinion(
            record_id=r.record_id,
            batch_id=batch.id,
            source="unit",
            unit=unit[:200],
            opinion=r.opinion,
            reason=r.reason,
            raw=r.raw,
            recorded_by=actor.username,
            recorded_at=now,
        )
        for r in rows
    )
    s.flush()
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.opinion or "（无结论）"] = counts.get(r.opinion or "（无结论）", 0) + 1
    inst.audit.append(
        s,
        actor=actor.username,
        action=EventType.APPRAISAL_OPINIONS_RECORDED,
        object_type="review_batch",
        object_id=batch.id,
        detail={
            "source": "unit",
            "unit": unit,
            "count": len(rows),
            "opinions": counts,
            "record_ids": ids,
            **(detail or {}),
        },
    )
    return len(rows)


def record_transfer_opinions(
    inst: Instance,
    s: Session,
    actor: Actor,
    *,
    transfer_id: int | None,
    unit: str,
    opinions: Sequence[tuple[int, str]],
    results: Sequence[str] = ("开放", "控制", "延期开放"),
    transfer_uid: str | None = None,
) -> int:
    """Keep the 开放审核意见 a transfer carried, ``[(record_id, text), …]`` (source "transfer").

    Called by the ingest when it catalogues a transfer (the actor is the ingest's). Blank
    opinions are skipped; a transfer's opinion on a record replaces the same transfer's earlier one.
    """
    rows = [(rid, text.strip()) for rid, text in opinions if text and text.strip()]
    if not rows:
        return 0
    ids = [rid for rid, _ in rows]
    if transfer_id is not None:
        for chunk in range(0, len(ids), 500):
            s.execute(
                delete(UnitOpinion).where(
                    UnitOpinion.transfer_id == transfer_id,
                    UnitOpinion.record_id.in_(ids[chunk : chunk + 500]),
                )
            )
    now = utcnow()
    name = (unit or "移交单位").strip()[:200]
    for rid, text in rows:
        opinion, reason = parse_opinion(text, results)
        s.add(
            UnitOpinion(
                record_id=rid,
                batch_id=None,
                transfer_id=transfer_id,
                source="transfer",
                unit=name,
                opinion=opinion,
                reason=reason,
                raw=text[:4000],
                recorded_by=actor.username,
                recorded_at=now,
            )
        )
    s.flush()
    inst.audit.append(
        s,
        actor=actor.username,
        action=EventType.APPRAISAL_OPINIONS_RECORDED,
        object_type="transfer",
        object_id=transfer_uid or (transfer_id if transfer_id is not None else "-"),
        detail={"source": "transfer", "unit": name, "count": len(rows), "record_ids": ids},
    )
    return len(rows)


def opinion_json(o: UnitOpinion) -> dict[str, Any]:
    return {
        "source": o.source,
        "source_label": "随移交提交" if o.source == "transfer" else "协同审核反馈",
        "unit": o.unit,
        "opinion": o.opinion,
        "reason": o.reason,
        "raw": o.raw,
        "batch_id": o.batch_id,
        "transfer_id": o.transfer_id,
        "recorded_by": o.recorded_by,
        "recorded_at": o.recorded_at.isoformat(),
    }


def opinions_for(
    s: Session, batch_id: int, record_ids: Sequence[int]
) -> dict[int, list[UnitOpinion]]:
    """The opinions shown beside each item: the batch's own and any sent with a transfer."""
    out: dict[int, list[UnitOpinion]] = {}
    for chunk in range(0, len(record_ids), 500):
        part = list(record_ids[chunk : chunk + 500])
        for o in s.scalars(
            select(UnitOpinion)
            .where(
                UnitOpinion.record_id.in_(part),
                (UnitOpinion.batch_id == batch_id) | (UnitOpinion.source == "transfer"),
            )
            .order_by(UnitOpinion.recorded_at, UnitOpinion.id)
        ):
            out.setdefault(o.record_id, []).append(o)
    return out
