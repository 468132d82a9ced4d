"""Per-commit caches of the search service: the ranked ids of a page and a query's facet counts.

Keys start with ``Snapshot.version`` (the index generation and its last commit), so an entry can
only be read back while the index is unchanged; any commit — records added, changed, published,
unpublished, withdrawn — makes every earlier key unreachable, and the least recently used entries
fall out. Nothing is invalidated by time. Cached ids are still re-checked against the database
when their hits are displayed (:meth:`SearchService._hits`), exactly as fresh ones are.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["LRU", "ResultCache"]

V = TypeVar("V")

# entries: a ranked page is ~100 numbers, a facet count ~1,000 (years × fonds at most)
RANKED_ENTRIES = 4096
FACET_ENTRIES = 1024


class LRU(Generic[V]):
    """A thread-safe least-recently-used map of at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class ResultCache:
    """The two caches of one search service (one per process)."""

    def __init__(self, ranked: int = RANKED_ENTRIES, facets: int = FACET_ENTRIES) -> None:
        # (total, scores, record ids) of one page of one query in one order
        self.ranked: LRU[tuple[int, tuple[float, ...], tuple[int, ...]]] = LRU(ranked)
        # (facet counts, sample buckets; 0 = exact) of one query
        self.facets: LRU[tuple[dict[str, tuple[tuple[str, int], ...]], int]] = LRU(facets)
