"""Signed messages: every way a message is refused, and the accepted case."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lantai.certificates.keys import SigningKey
from lantai.certificates.profiles import key_id_for, profile
from lantai.certificates.verify import TrustedKey
from lantai.federation.messages import Envelope, MessageRejected, Rejection, sign, verify

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _key(name: str = "sm2") -> SigningKey:
    prof = profile(name)
    pair = prof.generate()
    return SigningKey(key_id_for(prof, pair.public_spki), prof, pair.private, pair.public_spki)


def _trusted(key: SigningKey, code: str) -> TrustedKey:
    return TrustedKey(
        key_id=key.key_id,
        algorithm=key.profile.algorithm,
        public_key=key.public_spki,
        issuer_name="甲馆",
        issuer_code=code,
        valid_from=NOW - timedelta(days=1),
    )


SENDER = _key()
OTHER = _key()


def _check(
    wire: Any, *, now: datetime = NOW, seen: set[str] | None = None
) -> tuple[Envelope, dict[str, Any]]:
    nonces = seen if seen is not None else set()

    def nonce_seen(env: Envelope) -> bool:
        if env.nonce in nonces:
            return True
        nonces.add(env.nonce)
        return False

    keys = {("330001", SENDER.key_id): _trusted(SENDER, "330001")}
    return verify(
        wire,
        own_code="310001",
        find_key=lambda sender, key_id: keys.get((sender, key_id)),
        known_sender=lambda code: code == "330001",
        nonce_seen=nonce_seen,
        window_seconds=300,
        now=now,
    )


def _wire(key: SigningKey = SENDER, **kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sender": "330001",
        "recipient": "310001",
        "type": "livelihood.step",
        "body": {"ref": "330001-20260302-AB12CD34", "state": "forwarded", "note": "核对无误"},
        "now": NOW,
    }
    values.update(kw)
    return sign(key, **values)


def _reason(wire: Any, **kw: Any) -> Rejection:
    with pytest.raises(MessageRejected) as exc:
        _check(wire, **kw)
    return exc.value.reason


def test_a_signed_message_verifies_and_carries_every_envelope_field() -> None:
    env, body = _check(_wire())
    assert (env.sender, env.recipient, env.type) == ("330001", "310001", "livelihood.step")
    assert env.body_digest.startswith("sm3:") and len(env.nonce) == 32 and len(env.id) == 32
    assert env.timestamp == "2026-03-02T09:00:00Z" and body["note"] == "核对无误"
    assert env.tbs().decode().splitlines()[0] == "LANTAI-FED-MSG-1"


def test_unsigned_messages_are_rejected() -> None:
    wire = _wire()
    assert _reason({"body": wire["body"]}) is Rejection.UNSIGNED
    no_sig = copy.deepcopy(wire)
    no_sig["envelope"]["signature"] = ""
    assert _reason(no_sig) is Rejection.UNSIGNED
    assert _reason("not a message") is Rejection.UNSIGNED


def test_a_wrong_signature_is_rejected() -> None:
    # signed by a key that is not the sender's, but claiming the sender's key id
    forged = _wire(OTHER)
    forged["envelope"]["key_id"] = SENDER.key_id
    assert _reason(forged) is Rejection.BAD_SIGNATURE
    # a flipped byte of a genuine signature
    wire = _wire()
    sig = bytearray(Envelope.from_dict(wire["envelope"]).signature)
    sig[-3] ^= 0x01
    import base64

    wire["envelope"]["signature"] = base64.b64encode(bytes(sig)).decode()
    assert _reason(wire) is Rejection.BAD_SIGNATURE
    # an envelope field changed after signing
    wire = _wire()
    wire["envelope"]["type"] = "livelihood.other"
    assert _reason(wire) is Rejection.BAD_SIGNATURE


def test_a_changed_body_is_rejected() -> None:
    wire = _wire()
    wire["body"]["note"] = "已改动"
    assert _reason(wire) is Rejection.DIGEST_MISMATCH


def test_unknown_senders_keys_and_recipients_are_rejected() -> None:
    assert _reason(_wire(sender="320001")) is Rejection.UNKNOWN_SENDER
    assert _reason(_wire(OTHER)) is Rejection.UNKNOWN_KEY
    assert _reason(_wire(recipient="340001")) is Rejection.WRONG_RECIPIENT


def test_a_replayed_message_is_rejected() -> None:
    wire = _wire()
    seen: set[str] = set()
    _check(wire, seen=seen)
    assert _reason(copy.deepcopy(wire), seen=seen) is Rejection.REPLAYED
    # a retry of the same message id is signed afresh (new nonce): not a replay
    again = _wire(message_id=wire["envelope"]["id"])
    env, _ = _check(again, seen=seen)
    assert env.id == wire["envelope"]["id"]


def test_expired_or_future_messages_are_rejected() -> None:
    assert _reason(_wire(), now=NOW + timedelta(seconds=301)) is Rejection.EXPIRED
    assert _reason(_wire(), now=NOW - timedelta(seconds=301)) is Rejection.EXPIRED
    _check(_wire(), now=NOW + timedelta(seconds=299))


def test_rejections_map_to_http_statuses() -> None:
    assert Rejection.UNSIGNED.status == 401 and Rejection.REPLAYED.status == 409
    assert MessageRejected(Rejection.EXPIRED).status == 401
    assert MessageRejected(Rejection.UNKNOWN_SENDER).code == "message_unknown_sender"
