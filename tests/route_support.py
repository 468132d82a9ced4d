"""The routes an application really serves, whatever FastAPI does with included routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

__all__ = ["api_routes"]


def _walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, APIRoute]]:
    for r in routes:
        if isinstance(r, APIRoute):
            yield prefix + r.path, r
        elif hasattr(r, "original_router"):  # FastAPI's lazily included router
            yield from _walk(r.original_router.routes, prefix + r.include_context.prefix)


def api_routes(app: Any) -> list[tuple[str, APIRoute]]:
    """(full path, route) for every API route of ``app``, included routers flattened."""
    return list(_walk(app.routes, ""))
