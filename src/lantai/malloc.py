"""glibc malloc tuning for the long-running processes (``lantai serve``, ``lantai worker``).

glibc gives every thread that allocates its own malloc arena, up to eight per core, and keeps the
memory freed in an arena for that arena's later use. A server runs tens of threads (the request
thread pool, search threads, the job runner) and allocates in bursts (ingest: hashing buffers,
XML trees, PDF reports; the search library), so its freed memory scatters over many arenas and
its resident size creeps up for as long as it runs although nothing leaks: ``bench/soak.py`` saw
+8.6 % over 30 minutes (~10 MB of heap a minute, no plateau) with glibc's default, and −2 % with
two arenas (docs/operations.md, "Soak test"). :func:`limit_arenas` caps the arenas of this
process through ``mallopt`` and, through ``MALLOC_ARENA_MAX`` in the environment, of the processes
it starts (``--workers`` web processes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

__all__ = ["ENV", "limit_arenas"]

log = logging.getLogger(__name__)

ENV = "MALLOC_ARENA_MAX"
M_ARENA_MAX = -8  # glibc's malloc.h


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl's mallopt ignores this)
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas at ``count`` here and in child processes; whether it was done.

    Nothing is done for ``count`` 0 (glibc's default), when ``MALLOC_ARENA_MAX`` is already set
    (the operator's choice; glibc read it at start) or when the C library is not glibc. Arenas
    made before the call stay; threads started afterwards share the capped set, so call it before
    the server starts its threads."""
    if count <= 0 or os.environ.get(ENV):
        return False
    libc = _glibc()
    if libc is None:
        return False
    if libc.mallopt(M_ARENA_MAX, count) != 1:
        log.warning("mallopt(M_ARENA_MAX, %d) failed; glibc's default arenas are kept", count)
        return False
    os.environ[ENV] = str(count)
    return True
