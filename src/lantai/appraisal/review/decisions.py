"""Decisions (审核结论) per item or in bulk with filters, in the batch's current round.

Each decision records reviewer, time, round, result (开放 / 控制 / 延期开放 + 复审日期), reason and
basis (依据). One row per (batch, round, record): deciding again replaces it (``revision`` + 1)
and the event names what was replaced. Every call is all-or-nothing and is one event.

Rules checked (messages in zh-CN naming the field): the result is one of the configured results;
延期开放 needs a 复审日期 after today and within ``max_postpone_years``; 控制 and 延期开放 need a
reason; the actor holds the round's permission and its task (claimed on the first decision);
with ``distinct_reviewers`` nobody decides an item they decided in another round; in a round with
``unit_opinion_required`` (and a batch under joint review) each item needs a unit opinion first.
Items above the actor's 密级授权 are neither shown nor decided by them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lantai.appraisal.candidates import load_policy
from lantai.appraisal.review.batches import current_round, get_batch, rules_for
from lantai.appraisal.review.config import ReviewRules
from lantai.appraisal.review.rounds import check_task, ensure_reviewing, take_task
from lantai.audit import EventType
from lantai.errors import PermissionDenied, Problem, ValidationFailed
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import Record, ReviewBatch, ReviewDecision, ReviewItem, UnitOpinion, utcnow

__all__ = [
    "DecideResult",
    "DecisionInput",
    "ItemFilter",
    "decide",
    "filter_clause",
    "parse_due",
    "validate_decision",
]

MAX_REASON = 2000
MAX_BASIS = 1000


@dataclass(frozen=True, kw_only=True)
class DecisionInput:
    result: str
    review_due: date | None = None
    reason: str = ""
    basis: str = ""


@dataclass(frozen=True, kw_only=True)
class ItemFilter:
    """Which items of a batch: every given criterion must hold (none given = all items)."""

    record_ids: tuple[int, ...] | None = None
    no_hits: bool | None = None  # True: items without hits; False: items with hits
    suggestion: str | None = None
    category: str | None = None
    rule_id: str | None = None  # items with a hit of this rule
    undecided: bool = False  # only items without a decision in the current round
    unit_opinion: str | None = None  # items whose unit opinion (any source) is this result

    def is_empty(self) -> bool:
        return self == ItemFilter()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.record_ids is not None:
            out["record_ids"] = list(self.record_ids)
        for key in ("no_hits", "suggestion", "category", "rule_id", "unit_opinion"):
            v = getattr(self, key)
            if v is not None:
                out[key] = v
        if self.undecided:
            out["undecided"] = True
        return out


@dataclass
class DecideResult:
    round: str
    round_name: str
    count: int = 0
    created: int = 0
    replaced: int = 0
    record_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "round_name": self.round_name,
            "count": self.count,
            "created": self.created,
            "replaced": self.replaced,
            "record_ids": self.record_ids,
        }


def parse_due(value: str | date | None) -> date | None:
    """A 复审日期 as YYYY-MM-DD or YYYYMMDD (None or empty → None)."""
    if value is None or isinstance(value, date):
        return value
    s = str(value).strip()
    if not s:
        return None
    try:
        if len(s) == 8 and s.isdigit():
            return date(int(s[:4]), int(s[4:6]), int(s[6:]))
        return date.fromisoformat(s)
    except ValueError:
        raise ValidationFailed(
            "复审日期格式不对",
            [
                Problem(
                    field="复审日期",
                    value=s,
                    rule="日期格式",
                    message="应为 YYYY-MM-DD 或 YYYYMMDD 的有效日期",
                )
            ],
        ) from None


def validate_decision(d: DecisionInput, rules: ReviewRules, today: date) -> list[Problem]:
    """Problems with one decision's values (result, 复审日期, reason, basis)."""
    problems: list[Problem] = []
    allowed = "、".join(rules.results)
    if d.result not in rules.results:
        problems.append(
            Problem(
                field="结论",
                value=d.result,
                rule="开放标识",
                message=f"结论须为 {allowed} 之一",
            )
        )
    if d.result == rules.postpone:
        if d.review_due is None:
            problems.append(
                Problem(
                    field="复审日期",
                    rule="延期开放须定复审日期",
                    message=f"结论为「{rules.postpone}」时须填写复审日期",
                )
            )
        else:
            latest = date(today.year + rules.max_postpone_years, today.month, min(today.day, 28))
            if d.review_due <= today:
                problems.append(
                    Problem(
                        field="复审日期",
                        value=d.review_due.isoformat(),
                        message="复审日期须晚于今天",
                    )
                )
            elif d.review_due > latest:
                problems.append(
                    Problem(
                        field="复审日期",
                        value=d.review_due.isoformat(),
                        message=f"复审日期不能晚于 {rules.max_postpone_years} 年之后（{latest.isoformat()}）",
                    )
                )
    elif d.review_due is not None and d.result in rules.results:
        problems.append(
            Problem(
                field="复审日期",
                value=d.review_due.isoformat(),
                message=f"只有结论为「{rules.postpone}」时才填写复审日期",
            )
        )
    if d.result in rules.reason_required_for and not d.reason.strip():
        problems.append(
            Problem(field="理由", rule="审核留痕", message=f"结论为「{d.result}」时须填写理由")
        )
    if len(d.reason) > MAX_REASON:
        problems.append(Problem(field="理由", message=f"理由不能超过 {MAX_REASON} 个字符"))
    if len(d.basis) > MAX_BASIS:
        problems.append(Problem(field="依据", message=f"依据不能超过 {MAX_BASIS} 个字符"))
    return problems


def filter_clause(batch: ReviewBatch, flt: ItemFilter, actor: Actor) -> ColumnElement[bool]:
    """The WHERE clause over ``ReviewItem`` joined with ``Record`` for ``flt``."""
    cond: ColumnElement[bool] = and_(
        ReviewItem.batch_id == batch.id, Record.security_rank <= actor.clearance_rank
    )
    if flt.record_ids is not None:
        cond = and_(cond, ReviewItem.record_id.in_(list(flt.record_ids)))
    if flt.no_hits is True:
        cond = and_(cond, ReviewItem.hit_count == 0)
    elif flt.no_hits is False:
        cond = and_(cond, ReviewItem.hit_count > 0)
    if flt.suggestion is not None:
        cond = and_(cond, ReviewItem.suggestion == flt.suggestion)
    if flt.category is not None:
        cond = and_(cond, ReviewItem.category == flt.category)
    if flt.rule_id is not None:
        cond = and_(cond, ReviewItem.rule_counts[flt.rule_id].as_integer() > 0)
    if flt.undecided:
        r = current_round(batch)
        cond = and_(
            cond,
            ~exists().where(
                ReviewDecision.batch_id == batch.id,
                ReviewDecision.round == r.id,
                ReviewDecision.record_id == ReviewItem.record_id,
            ),
        )
    if flt.unit_opinion is not None:
        cond = and_(
            cond,
            exists().where(
                UnitOpinion.record_id == ReviewItem.record_id,
                or_(UnitOpinion.batch_id == batch.id, UnitOpinion.source == "transfer"),
                UnitOpinion.opinion == flt.unit_opinion,
            ),
        )
    return cond


def _basis_for(item: ReviewItem, d: DecisionInput, default_open: str) -> str:
    """The given basis, else the bases of the hits that suggest this result, else for 开放 the
    candidate policy's basis (档案法第二十七条)."""
    if d.basis.strip():
        return d.basis.strip()
    bases = list(
        dict.fromkeys(h.get("basis", "") for h in item.hits if h.get("result") == d.result)
    )
    bases = [b for b in bases if b]
    if bases:
        return "；".join(bases)[:MAX_BASIS]
    return default_open if d.result == "开放" else ""


def decide(
    inst: Instance,
    s: Session,
    actor: Actor,
    batch_id: int,
    decision: DecisionInput,
    *,
    items: ItemFilter,
    today: date | None = None,
) -> DecideResult:
    """Record ``decision`` for every item matching ``items`` in the current round (module doc)."""
    actor.require(Perm.APPRAISAL_REVIEW_DECIDE)
    today = today or date.today()
    rules = rules_for(inst)
    batch = get_batch(s, batch_id)
    ensure_reviewing(batch)
    r = current_round(batch)
    check_task(s, actor, batch)
    problems = validate_decision(decision, rules, today)
    if problems:
        raise ValidationFailed("审核结论未保存", problems)
    selected = list(
        s.scalars(
            select(ReviewItem)
            .join(Record, Record.id == ReviewItem.record_id)
            .where(filter_clause(batch, items, actor))
            .order_by(ReviewItem.position)
        )
    )
    if not selected:
        raise ValidationFailed(
            "审核结论未保存",
            [Problem(field="筛选条件", value=str(items.to_dict()), message="没有符合条件的条目")],
        )
    if items.record_ids is not None:
        missing = set(items.record_ids) - {i.record_id for i in selected}
        if missing:
            raise ValidationFailed(
                "审核结论未保存",
                [
                    Problem(
                        field="条目", value=str(rid), message=f"条目 {rid} 不在本批次中或无权查看"
                    )
                    for rid in sorted(missing)[:20]
                ],
            )
    ids = [i.record_id for i in selected]
    if rules.distinct_reviewers:
        _check_distinct(s, actor, batch, r.id, ids)
    if r.unit_opinion_required and batch.joint_review:
        _check_opinions(s, batch, selected, r.name)
    policy_basis = load_policy(config_dir=inst.settings.resolved_config_dir).basis
    existing = {
        d.record_id: d
        for chunk in range(0, len(ids), 500)
        for d in s.scalars(
            select(ReviewDecision).where(
                ReviewDecision.batch_id == batch.id,
                ReviewDecision.round == r.id,
                ReviewDecision.record_id.in_(ids[chunk : chunk + 500]),
            )
        )
    }
    problems = []
    bases: dict[int, str] = {}
    for item in selected:
        basis = _basis_for(item, decision, policy_basis)
        if not basis:
            problems.append(
                Problem(
                    field="依据",
                    value=item.archival_code or str(item.record_id),
                    message=f"{item.archival_code or item.record_id}：结论为「{decision.result}」"
                    "时须填写依据（机器预筛没有给出相应依据）",
                )
            )
        bases[item.record_id] = basis
    if problems:
        raise ValidationFailed("审核结论未保存", problems[:20])
    take_task(inst, s, actor, batch)
    now = utcnow()
    result = DecideResult(round=r.id, round_name=r.name)
    replaced: list[list[Any]] = []
    for item in selected:
        old = existing.get(item.record_id)
        if old is None:
            s.add(
                ReviewDecision(
                    batch_id=batch.id,
                    item_id=item.id,
                    record_id=item.record_id,
                    round=r.id,
                    reviewer=actor.username,
                    decided_at=now,
                    result=decision.result,
                    review_due=decision.review_due,
                    reason=decision.reason.strip(),
                    basis=bases[item.record_id],
                    revision=1,
                )
            )
            result.created += 1
        else:
            replaced.append(
                [item.record_id, old.result, old.reviewer, old.revision, old.decided_at.isoformat()]
            )
            old.reviewer = actor.username
            old.decided_at = now
            old.result = decision.result
            old.review_due = decision.review_due
            old.reason = decision.reason.strip()
            old.basis = bases[item.record_id]
            old.revision += 1
            result.replaced += 1
        result.record_ids.append(item.record_id)
    result.count = len(selected)
    batch.updated_at = now
    s.flush()
    uniform = len(set(bases.values())) == 1
    inst.audit.append(
        s,
        actor=actor.username,
        action=EventType.APPRAISAL_DECISIONS_RECORDED,
        object_type="review_batch",
        object_id=batch.id,
        detail={
            "round": r.id,
            "round_name": r.name,
            "result": decision.result,
            "review_due": decision.review_due.isoformat() if decision.review_due else None,
            "reason": decision.reason.strip(),
            "basis": next(iter(bases.values())) if uniform else None,
            "bases": None if uniform else {str(k): v for k, v in bases.items()},
            "filter": items.to_dict(),
            "count": result.count,
            "record_ids": result.record_ids,
            "replaced": replaced,
        },
    )
    return result


def _check_distinct(
    s: Session, actor: Actor, batch: ReviewBatch, round_id: str, ids: Sequence[int]
) -> None:
    rounds = {r["id"]: r["name"] for r in batch.rounds}
    clashes: list[tuple[int, str]] = []
    for chunk in range(0, len(ids), 500):
        clashes += [
            (int(rid), str(rnd))
            for rid, rnd in s.execute(
                select(ReviewDecision.record_id, ReviewDecision.round).where(
                    ReviewDecision.batch_id == batch.id,
                    ReviewDecision.round != round_id,
                    ReviewDecision.reviewer == actor.username,
                    ReviewDecision.record_id.in_(ids[chunk : chunk + 500]),
                )
            )
        ]
    if clashes:
        here = rounds.get(round_id, round_id)
        earlier = "、".join(sorted({rounds.get(x, x) for _, x in clashes}))
        listed = "、".join(str(rid) for rid, _ in clashes[:10])
        raise PermissionDenied(
            f"审核人 {actor.username} 已在「{earlier}」对 {len(clashes)} 件/卷作出结论"
            f"（条目 {listed}{' 等' if len(clashes) > 10 else ''}），"
            f"不能在「{here}」再次审核（规则：同一审核人不得在两轮中审核同一条目）"
        )


def _check_opinions(
    s: Session, batch: ReviewBatch, items: Sequence[ReviewItem], round_name: str
) -> None:
    ids = [i.record_id for i in items]
    have: set[int] = set()
    for chunk in range(0, len(ids), 500):
        have.update(
            int(x)
            for x in s.scalars(
                select(UnitOpinion.record_id).where(
                    UnitOpinion.record_id.in_(ids[chunk : chunk + 500]),
                    or_(UnitOpinion.batch_id == batch.id, UnitOpinion.source == "transfer"),
                )
            )
        )
    lacking = [i for i in items if i.record_id not in have]
    if lacking:
        raise ValidationFailed(
            f"「{round_name}」须先取得形成/移交单位意见（档案法第三十条），{len(lacking)} 件/卷尚无",
            [
                Problem(
                    field="单位意见",
                    value=i.archival_code or str(i.record_id),
                    rule="档案法第三十条 协同审核",
                    message=f"{i.archival_code or i.record_id} 尚无单位意见",
                )
                for i in lacking[:20]
            ],
        )
