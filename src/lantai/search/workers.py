"""Reading and analysis in worker processes, for rebuilding large indexes on several cores.

Reading rows and analysing them (OpenCC folding, bigrams) is Python and holds the GIL; tantivy's
own indexing runs in native threads. A rebuild therefore hands id ranges to ``python -m
lantai.search.worker`` child processes over pipes (length-prefixed pickles); each reads its rows
from the database, analyses them and sends back the document values, which the parent adds to the
index. Plain subprocesses are used rather than ``multiprocessing`` so that the host process
(uvicorn, pytest, a script without a ``__main__`` guard) is never re-imported and nothing is
forked from a process that runs threads. The database URL (which may hold a password) goes over
the pipe, not the command line.
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any

__all__ = ["IdRange", "analyse_in_workers", "serve"]

IdRange = tuple[int, int]
_END = object()


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError("analysis worker closed its output")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "big"))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    size = int.from_bytes(_read_exact(stream, 8), "big")
    return pickle.loads(_read_exact(stream, size))


def analyse_in_workers(url: str, batches: Iterable[IdRange], workers: int) -> Iterator[list[str]]:
    """Read and analyse the id ranges in ``workers`` child processes; yields results as they come."""
    todo: queue.Queue[Any] = queue.Queue(maxsize=workers * 2)
    done: queue.Queue[Any] = queue.Queue()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lantai.search.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    stop = threading.Event()

    def feed() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        todo.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # a database error while reading: report it
            done.put(exc)
        finally:
            for _ in procs:
                todo.put(_END)

    def serve(proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            _send(proc.stdin, url)
            while (item := todo.get()) is not _END:
                _send(proc.stdin, item)
                done.put(_receive(proc.stdout))
        except BaseException as exc:
            done.put(exc)
        finally:
            done.put(_END)

    threads = [threading.Thread(target=feed, daemon=True, name="lantai-search-feed")]
    threads += [
        threading.Thread(target=serve, args=(p,), daemon=True, name="lantai-search-worker")
        for p in procs
    ]
    for t in threads:
        t.start()
    try:
        finished = 0
        while finished < len(procs):
            item = done.get()
            if item is _END:
                finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        while True:  # unblock the feeder if it waits for room
            try:
                todo.get_nowait()
            except queue.Empty:
                break
        for p in procs:
            if p.stdin is not None:
                with contextlib.suppress(OSError):  # the worker may already have exited
                    p.stdin.close()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck worker
                p.kill()
                p.wait()
            if p.stdout is not None:
                p.stdout.close()


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker loop: the database URL first, then id ranges until stdin closes."""
    from lantai.search.indexer import read_and_analyse
    from lantai.store import Database

    db = Database(_receive(stdin))
    try:
        while True:
            try:
                lo, hi = _receive(stdin)
            except EOFError:
                return
            _send(stdout, read_and_analyse(db, lo, hi))
    finally:
        db.dispose()
