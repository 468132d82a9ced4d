"""Federated search for staff: the open (published) catalogues of every partner, in parallel.

Each enabled partner gets a signed ``search.query`` (``POST /api/federation/search``); it
verifies the request against its registry, searches as the anonymous public (published 开放
records only, :class:`lantai.search.permissions.Visibility`) and answers with a signed
``search.result``. Requests run concurrently (httpx2 async client); a partner that has not
answered within ``search.node_timeout_seconds`` of the start of the query is reported as
``timeout``, one that cannot be reached or answers wrongly as ``error``: the result is then
``partial`` and names those nodes. The whole query never takes much longer than the per-node
time-out (measured: tests/federation/test_federated_search.py, bench/federation.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2
from sqlalchemy.orm import Session

from lantai.certificates.keys import SigningKey
from lantai.federation.config import federation_config
from lantai.federation.identity import node_key, require_node
from lantai.federation.messages import MessageRejected, sign, verify
from lantai.federation.registry import find_partner_key, list_partners
from lantai.instance import Instance
from lantai.search import SearchParams
from lantai.search.service import SearchService
from lantai.security import Actor

__all__ = ["FederatedResult", "NodeOutcome", "answer_query", "federated_search"]

QUERY, RESULT = "search.query", "search.result"


@dataclass
class NodeOutcome:
    archive_code: str
    name: str
    status: str  # ok | timeout | error
    elapsed_ms: float
    total: int = 0
    hits: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    @property
    def status_label(self) -> str:
        return {"ok": "已返回", "timeout": "超时", "error": "不可用"}[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive_code": self.archive_code,
            "name": self.name,
            "status": self.status,
            "status_label": self.status_label,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "total": self.total,
            "hits": self.hits,
            "error": self.error,
        }


@dataclass
class FederatedResult:
    query: str
    nodes: list[NodeOutcome]
    elapsed_ms: float

    @property
    def partial(self) -> bool:
        return any(n.status != "ok" for n in self.nodes)

    @property
    def failed(self) -> list[str]:
        return [n.archive_code for n in self.nodes if n.status != "ok"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "partial": self.partial,
            "failed": self.failed,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "total": sum(n.total for n in self.nodes),
            "nodes": [n.to_dict() for n in self.nodes],
        }


def _prepare(inst: Instance) -> tuple[str, SigningKey, list[tuple[str, str, str]]]:
    with inst.db.read() as s:
        own = require_node(s).archive_code
        key = node_key(inst, s)
        partners = [
            (p.archive_code, p.name, p.base_url) for p in list_partners(s, enabled_only=True)
        ]
    return own, key, partners


async def federated_search(inst: Instance, q: str, *, size: int | None = None) -> FederatedResult:
    """Ask every enabled partner (see the module docstring); never raises for a partner.

    The per-node time-out runs from the start of the query, for every partner at once: a
    partner that has not answered ``node_timeout_seconds`` after the query began is ``timeout``,
    so the whole call takes at most the time-out plus the verification of the answers that came
    in time. Blocking work (the database, signing each query, verifying each answer) runs in
    worker threads, never on the event loop; each partner's query is sent as soon as it is
    signed, and each answer is verified as soon as it arrives.
    """
    cfg = federation_config(inst).search
    size = min(size or cfg.max_hits_per_node, cfg.max_hits_per_node)
    timeout = cfg.node_timeout_seconds
    started = time.perf_counter()
    deadline = started + timeout
    own, key, partners = await asyncio.to_thread(_prepare, inst)
    body = {"q": q, "size": size}

    async def one(client: httpx2.AsyncClient, code: str, name: str, url: str) -> NodeOutcome:
        def outcome(status: str, **kw: Any) -> NodeOutcome:
            return NodeOutcome(code, name, status, (time.perf_counter() - started) * 1000, **kw)

        try:
            wire = await asyncio.to_thread(
                sign, key, sender=own, recipient=code, type=QUERY, body=body
            )
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError
            resp = await asyncio.wait_for(
                client.post(url + "/api/federation/search", json=wire), left
            )
            if resp.status_code != 200:
                return outcome("error", error=f"HTTP {resp.status_code}")
            data = resp.json()
        except TimeoutError:
            return outcome("timeout", error=f"{timeout:g} 秒内未响应")
        except (httpx2.HTTPError, ValueError, OSError) as exc:
            return outcome("error", error=f"{type(exc).__name__}: {exc}"[:300])
        nonce = wire["envelope"]["nonce"]
        try:
            answer = await asyncio.to_thread(_checked_reply, inst, own, code, nonce, data)
        except MessageRejected as exc:
            return outcome("error", error=exc.message)
        hits = [h for h in answer.get("hits", []) if isinstance(h, dict)][:size]
        try:
            total = int(answer.get("total", 0))
        except (TypeError, ValueError):
            total = len(hits)
        return outcome("ok", total=total, hits=hits)

    limits = httpx2.Limits(max_connections=max(4, len(partners)))
    async with httpx2.AsyncClient(timeout=timeout + 0.5, limits=limits) as client:
        nodes = await asyncio.gather(*(one(client, c, n, u) for c, n, u in partners))
    return FederatedResult(q, list(nodes), (time.perf_counter() - started) * 1000)


def _checked_reply(inst: Instance, own: str, code: str, nonce: str, data: Any) -> dict[str, Any]:
    with inst.db.read() as s:
        return _verify_reply(inst, s, own, code, nonce, data)


def _verify_reply(
    inst: Instance, session: Session, own: str, code: str, nonce: str, data: Any
) -> dict[str, Any]:
    from lantai.federation.messages import Rejection

    _env, body = verify(
        data,
        own_code=own,
        find_key=lambda sender, key_id: find_partner_key(session, sender, key_id),
        known_sender=lambda sender: sender == code,
        nonce_seen=lambda _env: False,
        window_seconds=federation_config(inst).messages.clock_window_seconds,
        expect_type=RESULT,
    )
    if body.get("in_reply_to") != nonce:
        raise MessageRejected(Rejection.MALFORMED, "检索结果不是对本次请求的答复")
    return body


def answer_query(inst: Instance, service: SearchService, wire: Any) -> dict[str, Any]:
    """A partner's signed query: search the open catalogue and answer signed (raises if invalid)."""
    from lantai.federation.service import log_rejection, signed_reply, verify_inbound

    try:
        with inst.db.write() as s:
            env, body = verify_inbound(inst, s, wire, expect_type=QUERY)
    except MessageRejected as exc:
        log_rejection(inst, wire, exc)
        raise
    cfg = federation_config(inst).search
    q = str(body.get("q", ""))[:500]
    try:
        size = max(1, min(int(body.get("size") or cfg.max_hits_per_node), cfg.max_hits_per_node))
    except (TypeError, ValueError):
        size = cfg.max_hits_per_node
    results = service.search(Actor.anonymous(), SearchParams(q=q, size=size, facets=False))
    hits = [
        {
            "id": h.id,
            "archival_code": h.archival_code,
            "title": h.title,
            "year": h.year,
            "date": h.date,
            "responsible": h.responsible,
            "fonds_code": h.fonds_code,
        }
        for h in results.hits
    ]
    reply = {"in_reply_to": env.nonce, "q": q, "total": results.total, "hits": hits}
    return signed_reply(inst, env.sender, RESULT, reply)
