"""Errors of the search capability."""

from __future__ import annotations

from lantai.errors import LantaiError

__all__ = ["IndexUnavailable"]


class IndexUnavailable(LantaiError):
    """No complete index generation exists yet (first build running, or a rebuild is needed)."""

    status = 503
    code = "search_unavailable"
