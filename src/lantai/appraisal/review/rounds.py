"""Rounds of a batch: the task of each round (assigned or claimed) and advancing to the next.

A batch is always in one round (``round_index``). The round's task is open until the batch moves
on; it is assigned by a manager (``appraisal:review:manage``) or claimed by a reviewer who holds
the round's permission — and deciding on an unclaimed task claims it. A batch advances when every
item has a decision in the round, or with none at all when the round is ``skippable``. After the
last round the result is applied (:mod:`lantai.appraisal.review.apply`).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lantai.appraisal.review.batches import REVIEWING, batch_rounds, current_round, get_batch
from lantai.audit import EventType
from lantai.errors import Conflict, PermissionDenied
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import ReviewBatch, ReviewDecision, ReviewTask, utcnow

__all__ = [
    "advance",
    "assign_task",
    "check_task",
    "claim_task",
    "current_task",
    "ensure_reviewing",
    "take_task",
]


def ensure_reviewing(batch: ReviewBatch) -> None:
    if batch.state != REVIEWING:
        raise Conflict(f"审核批次「{batch.title}」已写入审核结果，不能再改动")


def current_task(s: Session, batch: ReviewBatch) -> ReviewTask:
    r = current_round(batch)
    task = s.scalar(
        select(ReviewTask).where(ReviewTask.batch_id == batch.id, ReviewTask.round == r.id)
    )
    if task is None:  # created with the batch and on each advance; repaired if missing
        task = ReviewTask(batch_id=batch.id, round=r.id, state="open")
        s.add(task)
        s.flush()
    return task


def _set_assignee(
    inst: Instance, s: Session, actor: Actor, batch: ReviewBatch, task: ReviewTask, who: str
) -> None:
    previous = task.assignee
    task.assignee = who
    task.assigned_by = actor.username
    task.assigned_at = utcnow()
    inst.audit.append(
        s,
        actor=actor.username,
        action=EventType.APPRAISAL_TASK_ASSIGNED,
        object_type="review_batch",
        object_id=batch.id,
        detail={
            "round": task.round,
            "round_name": current_round(batch).name,
            "assignee": who,
            "previous": previous,
            "claimed": who == actor.username,
        },
    )


def check_task(s: Session, actor: Actor, batch: ReviewBatch) -> ReviewTask:
    """The current task, if ``actor`` may work on it (nothing is changed).

    Raises PermissionDenied when the actor lacks the round's permission or the task is someone
    else's (the command-line operator may work on any task).
    """
    r = current_round(batch)
    actor.require(r.permission)
    task = current_task(s, batch)
    if task.assignee not in (None, actor.username) and not actor.is_operator:
        raise PermissionDenied(f"「{r.name}」任务已分配给 {task.assignee}，您不能在本轮作出结论")
    return task


def take_task(inst: Instance, s: Session, actor: Actor, batch: ReviewBatch) -> ReviewTask:
    """The current task for ``actor`` to work on: claimed now if nobody holds it."""
    task = check_task(s, actor, batch)
    if task.assignee is None:
        _set_assignee(inst, s, actor, batch, task, actor.username)
    return task


def claim_task(inst: Instance, s: Session, actor: Actor, batch_id: int) -> ReviewTask:
    batch = get_batch(s, batch_id)
    ensure_reviewing(batch)
    return take_task(inst, s, actor, batch)


def assign_task(
    inst: Instance, s: Session, actor: Actor, batch_id: int, username: str
) -> ReviewTask:
    """Assign (or reassign) the current round's task to ``username``."""
    from lantai.store import User

    actor.require(Perm.APPRAISAL_REVIEW_MANAGE)
    batch = get_batch(s, batch_id)
    ensure_reviewing(batch)
    r = current_round(batch)
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise Conflict(f"用户「{username}」不存在")
    target = inst.users.actor_for(s, user)
    if not target.can(r.permission):
        raise Conflict(f"用户「{username}」没有「{r.permission.label}」权限，不能承担「{r.name}」")
    task = current_task(s, batch)
    if task.assignee != username:
        _set_assignee(inst, s, actor, batch, task, username)
    return task


def advance(inst: Instance, s: Session, actor: Actor, batch_id: int) -> ReviewBatch:
    """Move the batch to its next round (see module doc); one event."""
    actor.require(Perm.APPRAISAL_REVIEW_MANAGE)
    batch = get_batch(s, batch_id)
    ensure_reviewing(batch)
    rounds = batch_rounds(batch)
    r = rounds[batch.round_index]
    if batch.round_index + 1 >= len(rounds):
        raise Conflict(f"「{r.name}」已是最后一轮：全部作出结论后请写入审核结果")
    decided = int(
        s.scalar(
            select(func.count())
            .select_from(ReviewDecision)
            .where(ReviewDecision.batch_id == batch.id, ReviewDecision.round == r.id)
        )
        or 0
    )
    skipped = decided == 0 and r.skippable
    if decided < batch.item_count and not skipped:
        raise Conflict(
            f"「{r.name}」还有 {batch.item_count - decided} 件/卷未作结论，不能进入下一轮"
            + ("" if r.skippable or decided else "（本轮不可跳过）")
        )
    task = current_task(s, batch)
    task.state = "skipped" if skipped else "done"
    task.completed_at = utcnow()
    batch.round_index += 1
    batch.updated_at = utcnow()
    nxt = rounds[batch.round_index]
    s.add(ReviewTask(batch_id=batch.id, round=nxt.id, state="open"))
    s.flush()
    inst.audit.append(
        s,
        actor=actor.username,
        action=EventType.APPRAISAL_BATCH_ADVANCED,
        object_type="review_batch",
        object_id=batch.id,
        detail={
            "from": r.id,
            "from_name": r.name,
            "to": nxt.id,
            "to_name": nxt.name,
            "decided": decided,
            "skipped": skipped,
        },
    )
    return batch
