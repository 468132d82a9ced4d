"""SQL constructs built once per process and shared by every request thread.

SQLAlchemy sets up parts of an ORM construct lazily, the first time they are used: an
``aliased()`` class's adapted columns, a statement's FROM list and join sides. That first use is
not safe from several threads at once. Under 50 concurrent portal clients a web process built
the record page's joined statement in two threads together and failed every later record page
with "Can't determine which FROM clause to join from" (bench/portal.py, 2026-11-21; reproduced in
``tests/store/test_shared.py``). :func:`built_once` builds a construct under a lock and compiles
it once before any other thread can see it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.sql import ClauseElement

__all__ = ["built_once"]

P = ParamSpec("P")
C = TypeVar("C", bound=ClauseElement)

_LOCK = threading.RLock()  # builders may call other builders (a statement uses a shared rule)


def built_once(build: Callable[P, C]) -> Callable[P, C]:
    """``build`` cached per arguments (hashable), built and compiled under a process-wide lock."""
    cache: dict[Hashable, C] = {}

    @functools.wraps(build)
    def get(*args: P.args, **kwargs: P.kwargs) -> C:
        key: Any = (args, tuple(sorted(kwargs.items())))
        found = cache.get(key)
        if found is not None:
            return found
        with _LOCK:
            found = cache.get(key)
            if found is None:
                found = build(*args, **kwargs)
                found.compile()  # the lazy set-up happens here, still under the lock
                cache[key] = found
        return found

    return get
