"""Search inside a running process: the reader, the service and (optionally) the indexing thread.

The web app starts one :class:`SearchRuntime` when it starts and stops it when it stops::

    runtime = SearchRuntime.start(instance)      # opens the index, starts the indexer thread
    runtime.service.search(actor, params)
    runtime.stop()

The indexing thread indexes only in the process that holds the writer lock; in every other process
(a second web worker) it stands by, searching the same index read-only and following its commits
and swaps, and takes over when the holder exits.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from lantai.instance import Instance
from lantai.search.index import SearchHome, SearchReader
from lantai.search.indexer import Indexer
from lantai.search.service import SearchService

__all__ = ["SearchRuntime", "search_home"]

log = logging.getLogger("lantai.search")


def search_home(inst: Instance) -> SearchHome:
    """``<LANTAI_HOME>/search``."""
    return SearchHome(inst.home / "search")


@dataclass
class SearchRuntime:
    inst: Instance
    home: SearchHome
    reader: SearchReader
    service: SearchService
    indexer: Indexer
    _stop: threading.Event
    _thread: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        inst: Instance,
        *,
        index: bool = True,
        interval: float = 0.5,
        standby: float = 5.0,
        workers: int = 1,
    ) -> SearchRuntime:
        """Open the index and, when ``index``, start the indexing thread.

        The thread indexes while this process holds the writer lock; otherwise it stands by and
        takes over (within ``standby`` seconds) when the holder exits.
        """
        home = search_home(inst)
        home.ensure()
        reader = SearchReader(home)
        indexer = Indexer(inst, home, reader=reader, workers=workers)
        runtime = cls(inst, home, reader, SearchService(inst, reader), indexer, threading.Event())
        if index:
            if not indexer.acquire():
                log.info("search index is maintained by process %s", indexer.lock.holder())
            runtime._thread = threading.Thread(
                target=indexer.run,
                args=(runtime._stop,),
                kwargs={"interval": interval, "standby": standby},
                name="lantai-search-indexer",
                daemon=True,
            )
            runtime._thread.start()
        return runtime

    @property
    def indexing(self) -> bool:
        """Whether this process maintains the index (holds the writer lock)."""
        return self._thread is not None and self._thread.is_alive() and self.indexer.lock.held

    def notify(self) -> None:
        """A catalogue write was committed in this process: index it now."""
        self.indexer.notify()

    def stop(self) -> None:
        self._stop.set()
        self.indexer.notify()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        self.indexer.release()
        self.service.close()
