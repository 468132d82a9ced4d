"""Stateless OAI-PMH resumption tokens: the request and the keyset position, signed.

A token carries everything the next page needs (verb, metadataPrefix, set, from, until, the last
(datestamp, record id) sent, the cursor and completeListSize), as base64url JSON followed by an
HMAC-SHA256 tag under a key kept in the instance's secrets directory (``oai-token.key``, created
on first use). Nothing is stored on the server, so tokens survive a restart and work on every
process serving the same home; a token that was altered, truncated or made for another verb is
refused (``badResumptionToken``). Tokens do not expire: the keyset position stays meaningful.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lantai.atomicfile import create_once

__all__ = ["BadToken", "PageToken", "TokenSigner", "load_signer"]

_KEY_FILE = "oai-token.key"


class BadToken(ValueError):
    """The resumption token is not one this repository issued (or was altered)."""


@dataclass(frozen=True)
class PageToken:
    verb: str
    prefix: str
    set_spec: str | None
    since: str | None  # the request's from/until as sent (their granularity matters)
    until: str | None
    after_stamp: datetime
    after_id: int
    cursor: int  # how many records were sent before the page this token asks for
    total: int  # completeListSize


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("token key too short")
        self._key = key

    def _tag(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()[:16])

    def encode(self, token: PageToken) -> str:
        payload = {
            "v": token.verb,
            "p": token.prefix,
            "s": token.set_spec,
            "f": token.since,
            "u": token.until,
            "d": token.after_stamp.astimezone(UTC).isoformat(),
            "i": token.after_id,
            "c": token.cursor,
            "n": token.total,
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{self._tag(body)}"

    def decode(self, text: str, verb: str) -> PageToken:
        body, _, tag = text.partition(".")
        if not body or not tag or len(text) > 4096:
            raise BadToken("malformed")
        try:
            ok = hmac.compare_digest(self._tag(body), tag)
        except (UnicodeEncodeError, TypeError):
            ok = False
        if not ok:
            raise BadToken("signature")
        try:
            p = json.loads(_unb64(body))
            token = PageToken(
                verb=str(p["v"]),
                prefix=str(p["p"]),
                set_spec=p["s"],
                since=p["f"],
                until=p["u"],
                after_stamp=datetime.fromisoformat(p["d"]).astimezone(UTC),
                after_id=int(p["i"]),
                cursor=int(p["c"]),
                total=int(p["n"]),
            )
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise BadToken("payload") from exc
        if token.verb != verb:
            raise BadToken("verb")
        return token


def load_signer(secrets_dir: Path) -> TokenSigner:
    """The instance's token signer; the key file is created (0600) the first time."""
    return TokenSigner(create_once(secrets_dir / _KEY_FILE, lambda: secrets.token_bytes(32)))
