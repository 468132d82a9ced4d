"""Signed messages between archive nodes: the envelope, signing, verification, replay checks.

**Format LANTAI-FED-MSG-1.** A message on the wire is one JSON object
``{"envelope": {...}, "body": {...}}``. The envelope names the message id, its type, the sender
and recipient archive codes, the time it was signed (UTC, seconds), a random nonce, the digest of
the body (SM3 for SM2 keys, SHA-256 otherwise, over the canonical JSON: sorted keys, no spaces,
UTF-8) and the signing key. The key signs the **to-be-signed text** (:meth:`Envelope.tbs`): the
first line ``LANTAI-FED-MSG-1`` then one ``name: value`` line each for id, type, sender, recipient,
timestamp, nonce, body_digest, key_id — with the certificate signing key of the sender
(:mod:`lantai.certificates.profiles`; SM2 with SM3 by default).

:func:`verify` checks, in this order, and raises :class:`MessageRejected` with a
:class:`Rejection` on the first failure: the envelope is there and complete (``unsigned``,
``malformed``); it is addressed to us (``wrong_recipient``); the sender is a registered partner
(``unknown_sender``) and the key is one of its keys (``unknown_key``); the body matches its digest
(``digest_mismatch``); the signature verifies (``bad_signature``); the timestamp is within the
clock window (``expired``); the nonce was not seen before (``replayed``). Signature before time
and nonce: an unauthenticated message can neither pass nor spend a nonce.

A message id identifies the *content* (it stays the same when the outbox retries), the nonce the
*transmission* (each attempt is signed afresh): a captured transmission replayed is ``replayed``;
a legitimate retry of a message already applied is acknowledged as a duplicate
(:mod:`lantai.federation.service`).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lantai.certificates.keys import SigningKey
from lantai.certificates.profiles import digest_hex, profile
from lantai.certificates.verify import TrustedKey, parse_time
from lantai.errors import LantaiError

__all__ = [
    "FORMAT",
    "Envelope",
    "MessageRejected",
    "Rejection",
    "body_digest",
    "canonical",
    "sign",
    "verify",
]

FORMAT = "LANTAI-FED-MSG-1"


class Rejection(StrEnum):
    UNSIGNED = "unsigned"
    MALFORMED = "malformed"
    WRONG_RECIPIENT = "wrong_recipient"
    UNKNOWN_SENDER = "unknown_sender"
    UNKNOWN_KEY = "unknown_key"
    DIGEST_MISMATCH = "digest_mismatch"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    REPLAYED = "replayed"

    @property
    def label(self) -> str:
        return {
            "unsigned": "消息未签名",
            "malformed": "消息格式错误",
            "wrong_recipient": "消息的接收馆不是本馆",
            "unknown_sender": "发送馆不是本馆登记的协作馆",
            "unknown_key": "签名公钥不是该协作馆登记的公钥",
            "digest_mismatch": "消息内容与摘要不符（已被改动）",
            "bad_signature": "签名验证失败",
            "expired": "消息时间超出允许的时钟偏差（已过期）",
            "replayed": "重放的消息（随机数已使用过）",
        }[self.value]

    @property
    def status(self) -> int:
        return {
            "unsigned": 401,
            "malformed": 400,
            "wrong_recipient": 421,
            "unknown_sender": 403,
            "unknown_key": 403,
            "digest_mismatch": 401,
            "bad_signature": 401,
            "expired": 401,
            "replayed": 409,
        }[self.value]


class MessageRejected(LantaiError):
    """A message failed verification; ``reason`` says which check."""

    code = "message_rejected"

    def __init__(self, reason: Rejection, detail: str = "") -> None:
        super().__init__(f"{reason.label}{'：' + detail if detail else ''}")
        self.reason = reason
        self.status = reason.status
        self.code = f"message_{reason.value}"


@dataclass(frozen=True, kw_only=True)
class Envelope:
    id: str
    type: str
    sender: str
    recipient: str
    timestamp: str  # ISO 8601 UTC, seconds, "Z"
    nonce: str
    body_digest: str  # "<sm3|sha256>:<hex>"
    key_id: str
    algorithm: str
    signature: bytes = b""

    def tbs(self) -> bytes:
        lines = [
            FORMAT,
            f"id: {self.id}",
            f"type: {self.type}",
            f"sender: {self.sender}",
            f"recipient: {self.recipient}",
            f"timestamp: {self.timestamp}",
            f"nonce: {self.nonce}",
            f"body_digest: {self.body_digest}",
            f"key_id: {self.key_id}",
        ]
        return ("\n".join(line.replace("\n", " ") for line in lines) + "\n").encode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "id": self.id,
            "type": self.type,
            "sender": self.sender,
            "recipient": self.recipient,
            "timestamp": self.timestamp,
            "nonce": self.nonce,
            "body_digest": self.body_digest,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, d: Any) -> Envelope:
        if not isinstance(d, dict) or not d.get("signature"):
            raise MessageRejected(Rejection.UNSIGNED)
        if d.get("format") != FORMAT:
            raise MessageRejected(Rejection.MALFORMED, f"信封格式不是 {FORMAT}")
        try:
            fields = {
                k: str(d[k])
                for k in (
                    "id",
                    "type",
                    "sender",
                    "recipient",
                    "timestamp",
                    "nonce",
                    "body_digest",
                    "key_id",
                    "algorithm",
                )
            }
            signature = base64.b64decode(str(d["signature"]), validate=True)
        except (KeyError, ValueError, binascii.Error):
            raise MessageRejected(Rejection.MALFORMED, "信封字段不全或签名不是 base64") from None
        if not signature:
            raise MessageRejected(Rejection.UNSIGNED)
        if not (0 < len(fields["id"]) <= 40 and 16 <= len(fields["nonce"]) <= 64):
            raise MessageRejected(Rejection.MALFORMED, "消息编号或随机数长度不对")
        return cls(**fields, signature=signature)

    @property
    def time(self) -> datetime:
        return parse_time(self.timestamp)


def canonical(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )


def body_digest(algorithm: str, body: Any) -> str:
    return f"{algorithm}:{digest_hex(algorithm, canonical(body))}"


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(
    key: SigningKey,
    *,
    sender: str,
    recipient: str,
    type: str,
    body: dict[str, Any],
    message_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The wire form of a freshly signed message (a new nonce on every call)."""
    env = Envelope(
        id=message_id or uuid.uuid4().hex,
        type=type,
        sender=sender,
        recipient=recipient,
        timestamp=_stamp(now or datetime.now(UTC)),
        nonce=secrets.token_hex(16),
        body_digest=body_digest(key.profile.digest, body),
        key_id=key.key_id,
        algorithm=key.profile.algorithm,
    )
    env = replace(env, signature=key.profile.sign(key.private, env.tbs()))
    return {"envelope": env.to_dict(), "body": body}


def verify(
    wire: Any,
    *,
    own_code: str,
    find_key: Callable[[str, str], TrustedKey | None],
    known_sender: Callable[[str], bool],
    nonce_seen: Callable[[Envelope], bool],
    window_seconds: float,
    now: datetime | None = None,
    expect_type: str | None = None,
) -> tuple[Envelope, dict[str, Any]]:
    """Check ``wire`` (see the module docstring); returns the envelope and the body.

    ``nonce_seen(env)`` is called last, only for an authentic, timely message: it must record the
    nonce and return whether it had been seen before.
    """
    if not isinstance(wire, dict) or "envelope" not in wire:
        raise MessageRejected(Rejection.UNSIGNED)
    env = Envelope.from_dict(wire["envelope"])
    body = wire.get("body")
    if not isinstance(body, dict):
        raise MessageRejected(Rejection.MALFORMED, "消息体不是 JSON 对象")
    if expect_type is not None and env.type != expect_type:
        raise MessageRejected(Rejection.MALFORMED, f"消息类型应为 {expect_type}")
    if env.recipient != own_code:
        raise MessageRejected(Rejection.WRONG_RECIPIENT, f"收件馆 {env.recipient}")
    if not known_sender(env.sender):
        raise MessageRejected(Rejection.UNKNOWN_SENDER, env.sender)
    key = find_key(env.sender, env.key_id)
    if key is None:
        raise MessageRejected(Rejection.UNKNOWN_KEY, env.key_id[:24])
    try:
        prof = profile(key.algorithm)
    except LantaiError:
        raise MessageRejected(Rejection.UNKNOWN_KEY, key.algorithm) from None
    algorithm, _, _ = env.body_digest.partition(":")
    if algorithm not in ("sm3", "sha256") or body_digest(algorithm, body) != env.body_digest:
        raise MessageRejected(Rejection.DIGEST_MISMATCH)
    if env.algorithm != prof.algorithm or not prof.verify(key.public_key, env.tbs(), env.signature):
        raise MessageRejected(Rejection.BAD_SIGNATURE)
    try:
        at = env.time
    except ValueError:
        raise MessageRejected(Rejection.MALFORMED, "时间戳格式错误") from None
    skew = abs(((now or datetime.now(UTC)) - at).total_seconds())
    if skew > window_seconds:
        raise MessageRejected(
            Rejection.EXPIRED, f"相差 {skew:.0f} 秒，允许 {window_seconds:.0f} 秒"
        )
    if nonce_seen(env):
        raise MessageRejected(Rejection.REPLAYED)
    return env, body
