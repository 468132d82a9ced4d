"""Receiving messages from partner nodes: verification against the registry, idempotent apply.

:func:`receive` is what ``POST /api/federation/inbox`` runs. It verifies the message
(:func:`verify_inbound`: registry keys, clock window, nonces), then applies it once: a message id
seen before is acknowledged as ``duplicate`` and not applied again (the sender's outbox retries
until it gets an acknowledgement, so the same message may arrive twice). A message the handler
refuses (a business rule) is acknowledged ``rejected`` with the reason, so the sender stops
retrying and shows it. Every acknowledgement is signed by this node. A rejected *transmission*
(unsigned, wrong signature, replayed, expired…) is answered with the error and logged as a
``federation:message:rejected`` event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lantai import faults
from lantai.audit import EventType, Outcome
from lantai.errors import InputError, LantaiError
from lantai.federation.config import federation_config
from lantai.federation.identity import node_key, require_node
from lantai.federation.livelihood import STEP_MESSAGE, apply_remote_step
from lantai.federation.messages import Envelope, MessageRejected, Rejection, sign, verify
from lantai.federation.outbox import retry_now
from lantai.federation.registry import find_partner_key, touch
from lantai.instance import Instance
from lantai.store import utcnow
from lantai.store.federation import FederationInbox, FederationNonce, FederationPartner

__all__ = ["HANDLERS", "receive", "signed_reply", "verify_inbound"]

Handler = Callable[[Instance, Session, Envelope, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {STEP_MESSAGE: apply_remote_step}


def _known(session: Session, code: str) -> bool:
    return (
        session.scalar(
            select(FederationPartner.id).where(
                FederationPartner.archive_code == code, FederationPartner.enabled.is_(True)
            )
        )
        is not None
    )


def verify_inbound(
    inst: Instance, session: Session, wire: Any, *, expect_type: str | None = None
) -> tuple[Envelope, dict[str, Any]]:
    """Verify ``wire`` against the registry; records its nonce in ``session``."""
    own = require_node(session).archive_code
    window = federation_config(inst).messages.clock_window_seconds

    def seen(env: Envelope) -> bool:
        session.execute(
            delete(FederationNonce).where(
                FederationNonce.seen_at < utcnow() - timedelta(seconds=3 * window)
            )
        )
        if session.get(FederationNonce, env.nonce) is not None:
            return True
        session.add(FederationNonce(nonce=env.nonce, sender=env.sender, seen_at=utcnow()))
        session.flush()
        return False

    return verify(
        wire,
        own_code=own,
        find_key=lambda sender, key_id: find_partner_key(session, sender, key_id),
        known_sender=lambda code: _known(session, code),
        nonce_seen=seen,
        window_seconds=window,
        expect_type=expect_type,
    )


def log_rejection(inst: Instance, wire: Any, exc: MessageRejected) -> None:
    env = wire.get("envelope") if isinstance(wire, dict) else None
    env = env if isinstance(env, dict) else {}
    with inst.db.write() as s:
        inst.audit.append(
            s,
            actor=f"node:{str(env.get('sender', '?'))[:16]}",
            action=EventType.FEDERATION_MESSAGE_REJECTED,
            object_type="federation_message",
            object_id=str(env.get("id", "?"))[:64],
            outcome=Outcome.FAILURE,
            detail={
                "reason": exc.reason.value,
                "message": exc.message,
                "type": str(env.get("type", ""))[:40],
            },
        )


def signed_reply(inst: Instance, recipient: str, type: str, body: dict[str, Any]) -> dict[str, Any]:
    with inst.db.read() as s:
        own = require_node(s).archive_code
        return sign(node_key(inst, s), sender=own, recipient=recipient, type=type, body=body)


def receive(inst: Instance, wire: Any) -> dict[str, Any]:
    """Verify and apply one message; returns the signed acknowledgement (see the module doc)."""
    env: Envelope | None = None
    try:
        with inst.db.write() as s:
            env, body = verify_inbound(inst, s, wire)
            touch(s, env.sender)
            retry_now(s, env.sender)
            prior = s.get(FederationInbox, env.id)
            if prior is not None:
                if prior.sender != env.sender:
                    raise MessageRejected(Rejection.MALFORMED, "消息编号已被其他协作馆使用")
                status, error = "duplicate", prior.error
            else:
                handler = HANDLERS.get(env.type)
                if handler is None:
                    raise InputError(f"不支持的消息类型「{env.type}」")
                handler(inst, s, env, body)
                faults.point("federation.inbox.applied")  # applied, no idempotency record yet
                s.add(
                    FederationInbox(
                        message_id=env.id,
                        sender=env.sender,
                        type=env.type,
                        body_digest=env.body_digest,
                        status="applied",
                        error="",
                    )
                )
                status, error = "applied", ""
    except MessageRejected as exc:
        log_rejection(inst, wire, exc)
        raise
    except LantaiError as exc:
        if env is None:
            raise
        status, error = "rejected", exc.message
        with inst.db.write() as s:  # the transaction above rolled back: record the refusal
            s.add(FederationNonce(nonce=env.nonce, sender=env.sender, seen_at=utcnow()))
            if s.get(FederationInbox, env.id) is None:
                s.add(
                    FederationInbox(
                        message_id=env.id,
                        sender=env.sender,
                        type=env.type,
                        body_digest=env.body_digest,
                        status="rejected",
                        error=error[:2000],
                    )
                )
    faults.point("federation.inbox.committed")  # committed; the sender has no ack yet
    return signed_reply(inst, env.sender, "ack", {"ack": env.id, "status": status, "error": error})
