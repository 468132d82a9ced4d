"""Store-and-forward delivery of messages to partner nodes, retried until acknowledged.

:func:`queue` adds a message to ``federation_outbox`` in the caller's transaction (so a message
exists exactly when the change that caused it was committed) and makes sure a
``federation.deliver`` job is queued. The job (:func:`deliver_due`) sends, per recipient and in
the order they were queued, every message that is due; the first failure to a recipient stops
that recipient's queue (later messages never overtake an earlier one) and schedules the next
attempt with exponential back-off (``messages.retry_*`` in federation.yaml). A message is
delivered when the recipient answers with an acknowledgement signed by its key naming this
message id (``applied`` or ``duplicate``); a signed ``rejected`` acknowledgement ends it as
refused (an event says why). As long as anything is pending, one job stays queued for the
earliest next attempt, so a restarted node resumes delivery by itself; a message from a partner
also makes its pending messages due at once (it is evidently back).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lantai import faults
from lantai.audit import EventType, Outcome
from lantai.federation.config import federation_config
from lantai.federation.identity import node_key, require_node
from lantai.federation.messages import MessageRejected, sign, verify
from lantai.federation.registry import find_partner_key
from lantai.instance import Instance
from lantai.jobs import JobContext, JobKind, JobRegistry, JobState, enqueue
from lantai.store import Job, utcnow
from lantai.store.federation import FederationOutbox, FederationPartner

__all__ = [
    "DELIVER_KIND",
    "DeliveryReport",
    "deliver_due",
    "ensure_delivery_job",
    "queue",
    "register",
    "retry_now",
]

log = logging.getLogger("lantai.federation")
DELIVER_KIND = "federation.deliver"
PENDING, DELIVERED, REFUSED = "pending", "delivered", "rejected"


def queue(
    inst: Instance,
    session: Session,
    *,
    recipient: str,
    type: str,
    body: Mapping[str, Any],
    ref: str = "",
) -> FederationOutbox:
    row = FederationOutbox(
        message_id=uuid.uuid4().hex,
        recipient=recipient,
        type=type,
        body=dict(body),
        ref=ref[:64],
        state=PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
        last_error="",
    )
    session.add(row)
    session.flush()
    ensure_delivery_job(session, row.next_attempt_at)
    return row


def ensure_delivery_job(session: Session, at: datetime) -> None:
    """One queued delivery job due no later than ``at`` (an earlier one is brought forward)."""
    queued = session.scalars(
        select(Job).where(Job.kind == DELIVER_KIND, Job.state == JobState.QUEUED.value)
    ).all()
    if queued:
        first = min(queued, key=lambda j: j.run_after)
        if _aware(first.run_after) > _aware(at):
            first.run_after = at
        return
    job = enqueue(session, DELIVER_KIND, {}, created_by="system:federation", max_attempts=1)
    job.run_after = at


def retry_now(session: Session, recipient: str) -> None:
    """Make the pending messages to ``recipient`` due now (it has just been heard from)."""
    now = utcnow()
    n = session.execute(
        update(FederationOutbox)
        .where(
            FederationOutbox.recipient == recipient,
            FederationOutbox.state == PENDING,
            FederationOutbox.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if n:
        ensure_delivery_job(session, now)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def _backoff(inst: Instance, attempts: int) -> float:
    m = federation_config(inst).messages
    return float(
        min(m.retry_max_seconds, m.retry_first_seconds * m.retry_factor ** max(0, attempts - 1))
    )


def _post(inst: Instance, partner_url: str, wire: dict[str, Any]) -> httpx2.Response:
    timeout = federation_config(inst).messages.request_timeout_seconds
    return httpx2.post(partner_url + "/api/federation/inbox", json=wire, timeout=timeout)


def _check_ack(
    inst: Instance, own: str, recipient: str, message_id: str, resp: httpx2.Response
) -> tuple[str, str]:
    """(status, error) of a signed acknowledgement; raises ValueError when it is not one."""
    try:
        wire = resp.json()
    except ValueError:
        raise ValueError(f"HTTP {resp.status_code}，应答不是 JSON") from None
    if resp.status_code != 200:
        err = wire.get("error") if isinstance(wire, dict) else None
        raise ValueError(f"HTTP {resp.status_code}：{err or resp.text[:200]}")
    window = federation_config(inst).messages.clock_window_seconds
    with inst.db.read() as s:
        try:
            _env, body = verify(
                wire,
                own_code=own,
                find_key=lambda sender, key_id: find_partner_key(s, sender, key_id),
                known_sender=lambda code: code == recipient,
                nonce_seen=lambda _env: False,  # an ack answers our own request; its id is ours
                window_seconds=window,
                expect_type="ack",
            )
        except MessageRejected as exc:
            raise ValueError(f"确认回执无效：{exc.message}") from None
    if body.get("ack") != message_id:
        raise ValueError("确认回执所指的消息编号不符")
    return str(body.get("status", "")), str(body.get("error", ""))


def deliver_due(inst: Instance, *, limit: int = 200) -> DeliveryReport:
    """Send what is due (see the module docstring); never raises for a partner's failure."""
    report = DeliveryReport()
    now = utcnow()
    with inst.db.read() as s:
        own = require_node(s).archive_code
        heads = s.execute(
            select(FederationOutbox.recipient, func.min(FederationOutbox.id))
            .where(FederationOutbox.state == PENDING)
            .group_by(FederationOutbox.recipient)
        ).all()
        partners = {p.archive_code: p.base_url for p in s.scalars(select(FederationPartner))}
    for recipient, _first in heads:
        sent = 0
        while sent < limit:
            with inst.db.read() as s:
                row = s.scalar(
                    select(FederationOutbox)
                    .where(
                        FederationOutbox.recipient == recipient,
                        FederationOutbox.state == PENDING,
                    )
                    .order_by(FederationOutbox.id)
                    .limit(1)
                )
                if row is None or _aware(row.next_attempt_at) > now:
                    break
                msg_id, msg_type, body = row.message_id, row.type, dict(row.body)
                wire = sign(
                    node_key(inst, s),
                    sender=own,
                    recipient=recipient,
                    type=msg_type,
                    body=body,
                    message_id=msg_id,
                )
            url = partners.get(recipient)
            faults.point("federation.outbox.sending")  # committed long ago, signed, not sent
            try:
                if url is None:
                    raise ValueError(f"协作馆 {recipient} 未登记")
                status, error = _check_ack(inst, own, recipient, msg_id, _post(inst, url, wire))
            except (httpx2.HTTPError, ValueError) as exc:
                _failed(inst, msg_id, f"{type(exc).__name__}: {exc}"[:2000])
                report.failed[msg_id] = str(exc)
                break
            faults.point("federation.outbox.acknowledged")  # partner has it; ours says pending
            if status in ("applied", "duplicate"):
                _done(inst, msg_id)
                report.delivered.append(msg_id)
            else:
                _refused(inst, msg_id, recipient, error or status)
                report.refused[msg_id] = error or status
            sent += 1
    with inst.db.write() as s:
        nxt = s.scalar(
            select(func.min(FederationOutbox.next_attempt_at)).where(
                FederationOutbox.state == PENDING
            )
        )
        if nxt is not None:
            ensure_delivery_job(s, max(_aware(nxt), utcnow()))
    return report


def _done(inst: Instance, message_id: str) -> None:
    with inst.db.write() as s:
        row = s.scalar(select(FederationOutbox).where(FederationOutbox.message_id == message_id))
        if row is not None and row.state == PENDING:
            row.state, row.delivered_at = DELIVERED, utcnow()
            row.attempts += 1
            row.last_error = ""


def _failed(inst: Instance, message_id: str, error: str) -> None:
    with inst.db.write() as s:
        row = s.scalar(select(FederationOutbox).where(FederationOutbox.message_id == message_id))
        if row is None or row.state != PENDING:
            return
        row.attempts += 1
        row.last_error = error
        row.next_attempt_at = utcnow() + timedelta(seconds=_backoff(inst, row.attempts))
    log.info("delivery of %s failed (will retry): %s", message_id, error)


def _refused(inst: Instance, message_id: str, recipient: str, error: str) -> None:
    with inst.db.write() as s:
        row = s.scalar(select(FederationOutbox).where(FederationOutbox.message_id == message_id))
        if row is None or row.state != PENDING:
            return
        row.state, row.last_error = REFUSED, error[:2000]
        row.attempts += 1
        inst.audit.append(
            s,
            actor="system:federation",
            action=EventType.FEDERATION_MESSAGE_REFUSED,
            object_type="federation_message",
            object_id=message_id,
            outcome=Outcome.FAILURE,
            detail={"recipient": recipient, "type": row.type, "ref": row.ref, "error": error},
        )


def _run(ctx: JobContext) -> None:
    report = deliver_due(ctx.inst)
    ctx.progress(
        "deliver",
        len(report.delivered),
        len(report.delivered) + len(report.failed) + len(report.refused),
        message=f"送达 {len(report.delivered)}，待重试 {len(report.failed)}",
        force=True,
    )


def _give_up(inst: Instance, _job_id: int, _params: Mapping[str, Any], _error: str) -> None:
    # the job crashed (not a partner's failure): keep delivering after the usual back-off
    with inst.db.write() as s:
        ensure_delivery_job(s, utcnow() + timedelta(seconds=_backoff(inst, 1)))


def register(registry: JobRegistry) -> None:
    registry.add(JobKind(name=DELIVER_KIND, run=_run, max_attempts=1, on_give_up=_give_up))
