"""到期鉴定与销毁: batches of expired records, review rounds, execution, the 销毁清册.

::

    batch = create_batch(inst, s, actor, title=…, record_ids=[…])   # from find_expired
    decide(inst, s, actor, batch.uid, round_no, [Decision(record_id, "destroy", reason=…)])
    decide(…, round 2 by another person with disposal:batch:approve …)
    summary = execute(inst, actor, batch.uid)                         # one transaction

Rounds come from ``disposal_rounds.yaml`` and are copied into the batch when it is created. A
round may start only when the previous one has a decision for every item; with
``distinct_reviewers`` nobody decides an item in two rounds. The last round's decision is carried
out: 延长保管期限 records the new retention (used by :func:`find_expired`; the 档号 keeps its
code) with a ``disposal:retention:extended`` event on the record; 销毁 removes the preserved
files of the unit and of every unit below it (:mod:`lantai.disposal.destroy`), their full texts,
and marks the records destroyed through :meth:`Catalogue.mark_destroyed` — metadata, decisions
and events stay. The 销毁清册 (XLSX + PDF) is stored as package ``disposal-register-<batch>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lantai import faults
from lantai.audit import EventType
from lantai.disposal.candidates import Expired, find_expired
from lantai.disposal.config import load_rounds
from lantai.disposal.destroy import authorise, destroy_objects
from lantai.disposal.register import RegisterRow, render_pdf, render_xlsx
from lantai.errors import Conflict, LantaiError, NotFound, Problem, ValidationFailed
from lantai.security import Actor, Perm
from lantai.storage import ObjectStore
from lantai.storage.system import StorageSystem
from lantai.storage.tasks import enqueue_replication
from lantai.store import (
    DisposalBatch,
    DisposalDecision,
    DisposalItem,
    RecordClosure,
    RecordFile,
    RecordText,
)

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = [
    "REGISTER_FILES",
    "Decision",
    "batch_json",
    "create_batch",
    "decide",
    "execute",
    "get_batch",
    "register_package_id",
]

REGISTER_FILES = ("销毁清册.xlsx", "销毁清册.pdf")
DECISION_LABELS = {"destroy": "销毁", "extend": "延长保管期限"}


@dataclass(frozen=True)
class Decision:
    record_id: int
    decision: Literal["destroy", "extend"]
    reason: str
    new_retention: str | None = None


def register_package_id(batch_uid: str) -> str:
    return f"disposal-register-{batch_uid}"


def get_batch(session: Session, uid: str) -> DisposalBatch:
    batch = session.scalar(select(DisposalBatch).where(DisposalBatch.uid == uid))
    if batch is None and len(uid) >= 8:
        batch = session.scalar(select(DisposalBatch).where(DisposalBatch.uid.startswith(uid)))
    if batch is None:
        raise NotFound(f"鉴定批次「{uid}」不存在")
    return batch


def create_batch(
    inst: Instance,
    session: Session,
    actor: Actor,
    *,
    title: str,
    record_ids: Sequence[int] | None = None,
    as_of: date | None = None,
    fonds_id: int | None = None,
) -> DisposalBatch:
    """A batch of expired records (all candidates, or the listed ones, which must be expired)."""
    actor.require(Perm.DISPOSAL_REVIEW)
    as_of = as_of or date.today()
    expired = {
        e.record_id: e
        for e in find_expired(
            session, inst.domain.table("retention"), as_of=as_of, fonds_id=fonds_id
        )
    }
    if not title.strip():
        raise ValidationFailed("批次须有名称", [Problem(field="名称", message="不能为空")])
    chosen: list[Expired]
    if record_ids is None:
        chosen = list(expired.values())
    else:
        problems = [
            Problem(field="条目", value=str(r), rule="到期鉴定", message="不是到期待鉴定的条目")
            for r in record_ids
            if r not in expired
        ]
        if problems:
            raise ValidationFailed("批次未创建：有条目未到期或已在其他批次中", problems)
        chosen = [expired[r] for r in dict.fromkeys(record_ids)]
    if not chosen:
        raise ValidationFailed("批次未创建", [Problem(field="条目", message="没有到期的条目")])
    rounds = load_rounds(config_dir=inst.settings.resolved_config_dir)
    batch = DisposalBatch(
        uid=str(uuid.uuid4()),
        title=title.strip(),
        state="open",
        as_of=as_of.isoformat(),
        rounds=[{**r.model_dump(), "distinct": rounds.distinct_reviewers} for r in rounds.rounds],
        created_by=actor.username,
        summary={},
    )
    session.add(batch)
    session.flush()
    for e in chosen:
        session.add(
            DisposalItem(
                batch_id=batch.id,
                record_id=e.record_id,
                archival_code=e.archival_code,
                title=e.title,
                retention=e.retention,
                formation_year=e.formation_year,
                expiry_year=e.expiry_year,
                state="pending",
                files=0,
                bytes=0,
            )
        )
    inst.audit.append(
        session,
        actor=actor.username,
        action=EventType.DISPOSAL_BATCH_CREATED,
        object_type="disposal_batch",
        object_id=batch.uid,
        detail={
            "title": batch.title,
            "as_of": batch.as_of,
            "items": len(chosen),
            "rounds": [r["label"] for r in batch.rounds],
        },
    )
    return batch


def _items(session: Session, batch: DisposalBatch) -> list[DisposalItem]:
    return list(
        session.scalars(
            select(DisposalItem).where(DisposalItem.batch_id == batch.id).order_by(DisposalItem.id)
        )
    )


def _decisions(
    session: Session, item_ids: Sequence[int]
) -> dict[tuple[int, int], DisposalDecision]:
    if not item_ids:
        return {}
    rows = session.scalars(select(DisposalDecision).where(DisposalDecision.item_id.in_(item_ids)))
    return {(d.item_id, d.round): d for d in rows}


def decide(
    inst: Instance,
    session: Session,
    actor: Actor,
    batch_uid: str,
    round_no: int,
    decisions: Sequence[Decision],
) -> list[DisposalDecision]:
    """Record ``decisions`` of round ``round_no`` (1-based); each is final once recorded."""
    batch = get_batch(session, batch_uid)
    if batch.state != "open":
        raise Conflict(f"批次「{batch.title}」已执行，不能再作鉴定意见")
    if not 1 <= round_no <= len(batch.rounds):
        raise ValidationFailed(
            "鉴定意见未保存",
            [
                Problem(
                    field="轮次", value=str(round_no), message=f"本批次只有 {len(batch.rounds)} 轮"
                )
            ],
        )
    spec = batch.rounds[round_no - 1]
    actor.require(Perm(spec["permission"]))
    items = {i.record_id: i for i in _items(session, batch)}
    existing = _decisions(session, [i.id for i in items.values()])
    retention = inst.domain.table("retention")
    problems: list[Problem] = []
    if round_no > 1:
        open_items = [i for i in items.values() if (i.id, round_no - 1) not in existing]
        if open_items:
            problems.append(
                Problem(
                    field="轮次",
                    rule="逐轮审查",
                    message=f"上一轮「{batch.rounds[round_no - 2]['label']}」还有 {len(open_items)} 项未作意见",
                )
            )
    for d in decisions:
        item = items.get(d.record_id)
        where = str(d.record_id)
        if item is None:
            problems.append(Problem(field="条目", value=where, message="不在本批次中"))
            continue
        where = item.archival_code or where
        if (item.id, round_no) in existing:
            problems.append(Problem(field="条目", value=where, message="本轮已作意见，不能改动"))
        if spec.get("distinct", True) and any(
            existing[(item.id, r)].reviewer == actor.username
            for r in range(1, len(batch.rounds) + 1)
            if (item.id, r) in existing
        ):
            problems.append(
                Problem(
                    field="鉴定人",
                    value=actor.username,
                    rule="鉴定与审批分离",
                    message=f"条目「{where}」已由本人在其他轮次作出意见",
                )
            )
        if d.decision not in DECISION_LABELS:
            problems.append(
                Problem(
                    field="结论",
                    value=d.decision,
                    message="应为 destroy（销毁）或 extend（延长保管期限）",
                )
            )
        if not d.reason.strip():
            problems.append(Problem(field="理由", value=where, message="须填写鉴定理由"))
        if d.decision == "extend":
            entry = retention.get(d.new_retention or "")
            current = retention.get(item.retention)
            if entry is None or entry.legacy:
                problems.append(
                    Problem(
                        field="新保管期限",
                        value=d.new_retention or "",
                        rule="保管期限代码表",
                        message="须为现行保管期限代码（如 D30、Y）",
                    )
                )
            elif (
                entry.years is not None
                and current is not None
                and current.years is not None
                and entry.years <= current.years
            ):
                problems.append(
                    Problem(
                        field="新保管期限",
                        value=d.new_retention or "",
                        rule="延长保管期限",
                        message=f"须长于原保管期限「{retention.label(item.retention)}」",
                    )
                )
        elif d.new_retention:
            problems.append(
                Problem(field="新保管期限", value=d.new_retention, message="只有延长保管期限时填写")
            )
    if problems:
        raise ValidationFailed("鉴定意见未保存", problems)
    out = []
    for d in decisions:
        item = items[d.record_id]
        row = DisposalDecision(
            item_id=item.id,
            round=round_no,
            decision=d.decision,
            new_retention=d.new_retention if d.decision == "extend" else None,
            reason=d.reason.strip(),
            reviewer=actor.username,
            decided_at=datetime.now(UTC),
        )
        session.add(row)
        out.append(row)
        inst.audit.append(
            session,
            actor=actor.username,
            action=EventType.DISPOSAL_ITEM_DECIDED,
            object_type="disposal_batch",
            object_id=batch.uid,
            detail={
                "round": round_no,
                "round_label": spec["label"],
                "record": item.record_id,
                "archival_code": item.archival_code,
                "decision": d.decision,
                "new_retention": row.new_retention,
                "reason": row.reason,
            },
        )
    session.flush()
    return out


def _unit_records(session: Session, record_id: int) -> list[int]:
    """The unit and every unit below it, deepest first."""
    rows = session.execute(
        select(RecordClosure.descendant_id, RecordClosure.depth)
        .where(RecordClosure.ancestor_id == record_id)
        .order_by(RecordClosure.depth.desc(), RecordClosure.descendant_id)
    ).all()
    return [int(r[0]) for r in rows] or [record_id]


def execute(
    inst: Instance, actor: Actor, batch_uid: str, *, store: ObjectStore | None = None
) -> dict[str, Any]:
    """Carry out the final decisions of a fully reviewed batch; the 销毁清册 is stored."""
    actor.require(Perm.DISPOSAL_EXECUTE)
    system = StorageSystem(inst)
    store = store or system.store(system.policy.primary.name)
    with inst.db.write() as s:
        batch = get_batch(s, batch_uid)
        if batch.state != "open":
            raise Conflict(f"批次「{batch.title}」已执行")
        final = len(batch.rounds)
        items = _items(s, batch)
        decisions = _decisions(s, [i.id for i in items])
        undecided = [i for i in items if (i.id, final) not in decisions]
        if undecided:
            raise ValidationFailed(
                "批次未执行：最后一轮审批尚未完成",
                [
                    Problem(
                        field="条目",
                        value=i.archival_code or str(i.record_id),
                        message="没有审批结论",
                    )
                    for i in undecided[:100]
                ],
            )
        now = datetime.now(UTC)
        register_rows: list[RegisterRow] = []
        destroyed = extended = files_total = bytes_total = 0
        for item in items:
            d = decisions[(item.id, final)]
            if d.decision == "extend":
                item.state, item.new_retention, item.done_at = "extended", d.new_retention, now
                extended += 1
                inst.audit.append(
                    s,
                    actor=actor.username,
                    action=EventType.DISPOSAL_RETENTION_EXTENDED,
                    object_type="record",
                    object_id=item.record_id,
                    detail={
                        "batch": batch.uid,
                        "archival_code": item.archival_code,
                        "from": item.retention,
                        "to": d.new_retention,
                        "reason": d.reason,
                        "approved_by": d.reviewer,
                    },
                )
                continue
            ids = _unit_records(s, item.record_id)
            keys = [
                (aip, path)
                for aip, path in s.execute(
                    select(RecordFile.aip_id, RecordFile.path)
                    .where(RecordFile.record_id.in_(ids))
                    .order_by(RecordFile.id)
                )
            ]
            # an execution killed before its commit may have destroyed some locations already:
            # carry on with its time, so every location writes identical tombstones (same digest)
            at = _started_at(system, keys, batch.uid, item.id) or now.isoformat(timespec="seconds")
            auth = authorise(s, item.id, at=at)
            gone = destroy_objects(inst, s, auth, keys, actor=actor.username, system=system)
            if keys:
                inst.audit.append(
                    s,
                    actor=actor.username,
                    action=EventType.STORAGE_OBJECTS_DESTROYED,
                    object_type="disposal_batch",
                    object_id=batch.uid,
                    detail={
                        "record": item.record_id,
                        "archival_code": item.archival_code,
                        "objects": [f"{a}/{p}" for a, p in keys],
                        "files": gone.files,
                        "bytes": gone.bytes,
                        "approved_by": auth.approved_by,
                        "destroyed_at": auth.destroyed_at,
                        "locations": gone.locations,
                    },
                )
            s.execute(delete(RecordText).where(RecordText.record_id.in_(ids)))
            for rid in ids:
                inst.catalogue.mark_destroyed(s, actor, rid, batch=batch.uid, reason=d.reason)
            item.state, item.done_at = "destroyed", now
            item.files, item.bytes = len(keys), gone.bytes
            faults.point("disposal.item.destroyed")
            destroyed += 1
            files_total += len(keys)
            bytes_total += gone.bytes
            register_rows.append(
                RegisterRow(
                    number=len(register_rows) + 1,
                    archival_code=item.archival_code or "",
                    title=item.title,
                    formation_year=item.formation_year,
                    retention=inst.domain.table("retention").label(item.retention),
                    expiry_year=item.expiry_year,
                    files=len(keys),
                    reason=d.reason,
                    approved_by=d.reviewer,
                    approved_at=d.decided_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    destroyed_at=now.strftime("%Y-%m-%d %H:%M UTC"),
                )
            )
        cover = (
            f"批次：{batch.title}（{batch.uid}）  鉴定日期：{batch.as_of}  "
            f"审查轮次：{' → '.join(r['label'] for r in batch.rounds)}  执行人：{actor.display_name}"
        )
        package = _store_register(inst, s, store, batch.uid, cover, register_rows)
        faults.point("disposal.register.stored")
        enqueue_replication(inst, s, package, created_by=actor.username)  # kept on every copy
        batch.state, batch.executed_by, batch.executed_at = "executed", actor.username, now
        batch.register_package = package
        batch.summary = {
            "destroyed": destroyed,
            "extended": extended,
            "files": files_total,
            "bytes": bytes_total,
            "register": [f"{package}/{n}" for n in REGISTER_FILES],
        }
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.DISPOSAL_BATCH_EXECUTED,
            object_type="disposal_batch",
            object_id=batch.uid,
            detail=batch.summary,
        )
        return dict(batch.summary)


def _started_at(
    system: StorageSystem, keys: Sequence[tuple[str, str]], batch_uid: str, item_id: int
) -> str | None:
    """The destruction time an earlier, interrupted execution of this item already wrote."""
    for loc in system.policy.locations:
        try:
            store = system.store(loc.name)
            for package_id in sorted({p for p, _ in keys}):
                tombs = store.tombstones(package_id)
                for p, path in keys:
                    tomb = tombs.get(path) if p == package_id else None
                    if tomb and tomb.get("batch") == batch_uid and tomb.get("item") == item_id:
                        return str(tomb["at"])
        except (LantaiError, OSError):  # unreachable: destroy_everywhere records it pending
            continue
    return None


def _store_register(
    inst: Instance,
    s: Session,
    store: ObjectStore,
    batch_uid: str,
    cover: str,
    rows: Sequence[RegisterRow],
) -> str:
    base = register_package_id(batch_uid)
    package, n = base, 1

    def named(pid: str) -> bool:
        return (
            s.scalar(select(DisposalBatch.id).where(DisposalBatch.register_package == pid))
            is not None
        )

    while store.package(package) is not None:
        # left by an execution that was killed before its commit (nothing names it): replace it
        if store.discard_uncommitted(
            package, reason=f"销毁清册 {package} 所属的执行未完成", referenced=named
        ):
            inst.audit.append(
                s,
                actor="system:disposal",
                action=EventType.STORAGE_PACKAGE_DISCARDED,
                object_type="package",
                object_id=package,
                detail={"reason": "销毁清册所属的执行未完成（进程中断），重新生成"},
            )
            break
        n += 1
        package = f"{base[:60]}-{n}"
    with store.begin(package) as writer:
        writer.put_bytes(REGISTER_FILES[0], render_xlsx(cover, rows))
        writer.put_bytes(REGISTER_FILES[1], render_pdf(cover, rows))
        writer.commit()
    return package


def batch_json(session: Session, batch: DisposalBatch) -> dict[str, Any]:
    items = _items(session, batch)
    decisions = _decisions(session, [i.id for i in items])
    counts = session.execute(
        select(DisposalItem.state, func.count())
        .where(DisposalItem.batch_id == batch.id)
        .group_by(DisposalItem.state)
    ).all()
    return {
        "uid": batch.uid,
        "title": batch.title,
        "state": batch.state,
        "as_of": batch.as_of,
        "rounds": batch.rounds,
        "created_by": batch.created_by,
        "created_at": batch.created_at.isoformat(),
        "executed_by": batch.executed_by,
        "executed_at": batch.executed_at.isoformat() if batch.executed_at else None,
        "register": batch.summary.get("register", []),
        "summary": batch.summary,
        "counts": {str(k): int(v) for k, v in counts},
        "items": [
            {
                "record_id": i.record_id,
                "archival_code": i.archival_code,
                "title": i.title,
                "retention": i.retention,
                "formation_year": i.formation_year,
                "expiry_year": i.expiry_year,
                "state": i.state,
                "new_retention": i.new_retention,
                "files": i.files,
                "decisions": [
                    {
                        "round": r,
                        "decision": decisions[(i.id, r)].decision,
                        "new_retention": decisions[(i.id, r)].new_retention,
                        "reason": decisions[(i.id, r)].reason,
                        "reviewer": decisions[(i.id, r)].reviewer,
                        "decided_at": decisions[(i.id, r)].decided_at.isoformat(),
                    }
                    for r in range(1, len(batch.rounds) + 1)
                    if (i.id, r) in decisions
                ],
            }
            for i in items
        ],
    }
