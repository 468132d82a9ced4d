"""The application factory of ``lantai serve --workers N`` (N > 1): uvicorn starts N processes
and each calls :func:`app`, which opens the instance named by the environment (LANTAI_HOME /
LANTAI_DATABASE_URL) and serves it without background work (run that in one ``lantai serve``
process of its own, or ``lantai worker`` with the Redis job backend; docs/operations.md)."""

from __future__ import annotations

from fastapi import FastAPI

from lantai.instance import Instance
from lantai.settings import Settings

__all__ = ["app"]


def app() -> FastAPI:
    from lantai.web.app import create_app

    return create_app(Instance.open(Settings.load()), background=False)
