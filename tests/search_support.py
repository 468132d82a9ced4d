"""Helpers for search tests (import with ``from search_support import …``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from factories import item_values
from lantai.archival import Level
from lantai.instance import Instance
from lantai.search import (
    Indexer,
    SearchParams,
    SearchReader,
    SearchResults,
    SearchRuntime,
    SearchService,
    search_home,
)
from lantai.security import Actor
from lantai.store import Record

__all__ = [
    "RELEVANCE_REPORT",
    "SearchKit",
    "build_relevance_corpus",
    "make_kit",
    "running_search",
    "search_app",
    "wait_indexed",
]


@dataclass
class SearchKit:
    """An instance with its indexer (writer lock held) and a service reading the same index."""

    inst: Instance
    indexer: Indexer
    reader: SearchReader
    service: SearchService

    def sync(self) -> int:
        """Apply the events written so far (what the background thread does every half second)."""
        return self.indexer.catch_up()

    def search(self, actor: Actor | None = None, **params: Any) -> SearchResults:
        return self.service.search(actor or Actor.operator(), SearchParams(**params))

    def ids(self, q: str = "", actor: Actor | None = None, **params: Any) -> list[int]:
        params.setdefault("size", 100)
        return [h.id for h in self.search(actor, q=q, **params).hits]

    def item(self, parent_id: int, **values: Any) -> Record:
        with self.inst.db.write() as s:
            return self.inst.catalogue.create_record(
                s,
                Actor.operator(),
                parent_id=parent_id,
                level=Level.ITEM,
                values=item_values(**values),
            )


def make_kit(inst: Instance) -> SearchKit:
    home = search_home(inst)
    reader = SearchReader(home)
    indexer = Indexer(inst, home, reader=reader)
    assert indexer.acquire()
    indexer.ensure()
    return SearchKit(inst, indexer, reader, SearchService(inst, reader))


def search_app(inst: Instance) -> Any:
    """The web app (its ROUTERS include the search API and pages)."""
    from lantai.web.app import create_app

    return create_app(inst)


@contextmanager
def running_search(app: Any, inst: Instance) -> Iterator[SearchRuntime]:
    """A search runtime that indexes, installed on the app, with everything written so far indexed.

    The app's lifespan (tests run without ``background``) opens the index read-only; this replaces
    that runtime with an indexing one for the block and puts the read-only one back after.
    """
    previous = getattr(app.state, "search", None)
    if isinstance(previous, SearchRuntime) and previous.indexing:
        runtime, started = previous, None
    else:
        runtime = started = SearchRuntime.start(inst, interval=0.1)
        app.state.search = runtime
    try:
        wait_indexed(inst)
        yield runtime
    finally:
        if started is not None:
            started.stop()
            app.state.search = previous


def wait_indexed(inst: Instance, timeout: float = 30.0) -> None:
    """Wait until the index has applied every event written so far."""
    indexer = Indexer(inst, search_home(inst))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = indexer.status()
        if st.complete and st.seq >= st.head:
            time.sleep(0.6)  # readers in other threads reload on commit
            return
        time.sleep(0.05)
    raise AssertionError(f"index did not catch up: {indexer.status()}")


# -- the relevance corpus ------------------------------------------------------------------------

RELEVANCE_FONDS = "Z110"
RELEVANCE_REPORT = pytest.StashKey[
    dict[str, Any]
]()  # filled by test_relevance, printed by conftest
RELEVANCE_RECORDS = 3000


def build_relevance_corpus(inst: Instance) -> None:
    """The corpus of tests/search/relevance.yaml: the demo catalogue with the five seed speeches
    as full texts of their records, plus 3,000 generated 文书档案 items (fixed seed and years)."""
    from lantai.demo import load_demo
    from lantai.demo.generator import generate_records

    op = Actor.operator()
    load_demo(inst, actor=op)  # stores each seed speech as its record's full text
    generate_records(
        inst,
        records=RELEVANCE_RECORDS,
        fonds_code=RELEVANCE_FONDS,
        seed=11,
        years=(2005, 2014),
        batch=1000,
        actor=op,
    )
