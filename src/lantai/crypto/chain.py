"""Keyed hash chain for the append-only event log.

Each link is HMAC-SM3(key, previous link ‖ canonical JSON of the row). Without the key, which
lives in the instance's secrets directory and not in the database, an edited row cannot be
re-chained; with a pure hash chain anyone who can write the table could recompute every later
link. GB/T 39786 names SM3-HMAC for the integrity of stored data, logs included.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["GENESIS", "canonical_json", "chain_hash"]

GENESIS = "0" * 64


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )


def chain_hash(key: bytes, prev_hash: str, payload: Mapping[str, Any]) -> str:
    return hmac.new(key, prev_hash.encode("ascii") + canonical_json(payload), "sm3").hexdigest()
