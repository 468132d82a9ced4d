"""Rate limits for public endpoints: a token bucket per (bucket name, client key), in process.

``limit("search")`` is a FastAPI dependency: each call takes one token from the client's bucket,
refilled at ``per_minute`` tokens a minute up to ``burst``; an empty bucket answers 429 with a
zh-CN message naming the wait. The client key is the peer address (behind a reverse proxy,
configure it to pass the real address to uvicorn with ``--forwarded-allow-ips``). The buckets are
configured in ``access.yaml`` (``rate_limits``); a name without configuration is not limited.
In-process state: each server process limits on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any

from fastapi import Depends, Request

from lantai.errors import LantaiError

__all__ = ["RateLimited", "RateLimiter", "limit"]


class RateLimited(LantaiError):
    """Too many requests from one client for one bucket."""

    status = 429
    code = "rate_limited"


class RateLimiter:
    """Token buckets keyed by (name, client); the least recently used are forgotten past ``size``."""

    def __init__(self, buckets: dict[str, tuple[float, int]], *, size: int = 100_000) -> None:
        self.buckets = dict(buckets)  # name → (per_minute, burst)
        self.size = size
        self._state: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, name: str, client: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds until a token is available."""
        spec = self.buckets.get(name)
        if spec is None:
            return 0.0
        rate, burst = spec[0] / 60.0, float(spec[1])
        now = time.monotonic() if now is None else now
        key = (name, client)
        with self._lock:
            tokens, last = self._state.pop(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / rate
            self._state[key] = (tokens, now)
            while len(self._state) > self.size:
                self._state.popitem(last=False)
        return wait


def _limiter(request: Request) -> RateLimiter | None:
    found = getattr(request.app.state, "ratelimiter", None)
    return found if isinstance(found, RateLimiter) else None


def limit(name: str) -> Any:
    """Dependency enforcing bucket ``name`` for the request's client."""

    async def check(request: Request) -> None:  # async: no thread-pool hop for a dict lookup
        limiter = _limiter(request)
        if limiter is None:
            return
        client = request.client.host if request.client else "-"
        wait = limiter.take(name, client)
        if wait > 0:
            raise RateLimited(f"请求过于频繁，请 {math.ceil(wait)} 秒后再试")

    return Depends(check)
