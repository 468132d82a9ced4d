"""siegfried, in this process or in a child process (``python -m lantai.formats._siegfried``).

siegfried holds the GIL while it scans. For large batches :class:`SiegfriedChild` runs it in a
child interpreter that imports nothing but pygfried and speaks JSON lines over its pipes (one
request ``{"paths": [...], "workers": n}`` → one reply ``[{file result}, ...]``), so the parent's
threads keep running meanwhile. A plain subprocess rather than ``multiprocessing``: nothing of
the caller's ``__main__`` is re-imported in the child. :class:`SiegfriedProcess` is the same
child kept running and fed batches as they come (the ingest pipeline feeds it while it is still
reading the transfer); each reply goes to a callback on a reader thread.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import pygfried

__all__ = ["SiegfriedChild", "SiegfriedProcess", "main", "scan"]


def scan(paths: list[str], workers: int) -> list[dict[str, Any]]:
    """siegfried's per-file results for ``paths`` (plain dicts)."""
    result = pygfried.identify_many(paths, workers=max(1, workers))
    return [dict(f) for f in result.get("files", [])]


class SiegfriedChild:
    """Scan batches in a child process; results come back in the order the batches were given."""

    def __init__(self, batches: Sequence[list[str]], workers: int) -> None:
        self._batches = batches
        self._workers = workers

    def results(self) -> Iterator[list[dict[str, Any]]]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lantai.formats._siegfried"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdin is not None and proc.stdout is not None
        writer = threading.Thread(
            target=self._feed, args=(proc.stdin,), name="siegfried-feed", daemon=True
        )
        writer.start()
        try:
            for _ in self._batches:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError("siegfried child process ended unexpectedly")
                yield json.loads(line)
        finally:
            writer.join(timeout=5)
            proc.stdout.close()
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=10)

    def _feed(self, stdin: IO[bytes]) -> None:
        try:
            for batch in self._batches:
                request = {"paths": batch, "workers": self._workers}
                stdin.write(json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n")
                stdin.flush()
        except OSError:
            pass  # the child died; results() reports it
        finally:
            with contextlib.suppress(OSError):
                stdin.close()


Reply = Callable[[list[str], list[dict[str, Any]]], None]  # (batch, its results)


class SiegfriedProcess:
    """A long-lived child scanning batches submitted at any time (see the module docstring).

    :meth:`submit` never blocks (a feeder thread writes the requests); each reply is passed with
    its batch to ``on_reply`` on the reader thread, in submission order. :meth:`close` waits for
    every reply and returns the batches that got none (the child died): the caller identifies
    them another way.
    """

    def __init__(self, on_reply: Reply, *, workers: int = 1) -> None:
        self._on_reply = on_reply
        self._workers = workers
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "lantai.formats._siegfried"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._requests: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._sent: deque[list[str]] = deque()
        self._unanswered: list[list[str]] = []
        self.error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, name="siegfried-feed", daemon=True)
        self._reader = threading.Thread(target=self._read, name="siegfried-read", daemon=True)
        self._feeder.start()
        self._reader.start()

    def submit(self, batch: list[str]) -> None:
        self._requests.put(batch)

    def close(self, timeout: float | None = None) -> list[list[str]]:
        """Wait for all replies (the child then exits); the batches left without one."""
        self._requests.put(None)
        self._feeder.join(timeout)
        self._reader.join(timeout)
        if self._proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5 if self._reader.is_alive() else 30)
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        return self._unanswered + list(self._sent)

    def kill(self) -> None:
        """Stop at once (an abandoned run): no more replies are delivered."""
        self._on_reply = lambda _b, _r: None
        if self._proc.poll() is None:
            self._proc.kill()
        self._requests.put(None)

    def _feed(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while (batch := self._requests.get()) is not None:
                self._sent.append(batch)
                request = {"paths": batch, "workers": self._workers}
                stdin.write(json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n")
                stdin.flush()
        except OSError:  # the child died: the reader sees its end
            while (batch := self._requests.get()) is not None:
                self._unanswered.append(batch)
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            for line in stdout:
                batch = self._sent.popleft()
                self._on_reply(batch, json.loads(line))
        except BaseException as exc:  # reported by close() as unanswered batches
            self.error = exc
            with contextlib.suppress(OSError):
                self._proc.kill()  # unblocks the feeder; nobody reads the replies any more
        finally:
            stdout.close()


def main() -> None:
    """The child: one JSON request per input line, one JSON reply per output line."""
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        reply = scan([str(p) for p in request["paths"]], int(request.get("workers", 1)))
        out.write(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
