"""siegfried, in this process or in a child process (``python -m lantai.formats._siegfried``).

siegfried holds the GIL while it scans. For large batches :class:`SiegfriedChild` runs it in a
child interpreter that imports nothing but pygfried and speaks JSON lines over its pipes (one
request ``{"paths": [...], "workers": n}`` → one reply ``[{file result}, ...]``), so the parent's
threads keep running meanwhile. A plain subprocess rather than ``multiprocessing``: nothing of
the caller's ``__main__`` is re-imported in the child.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, Any

import pygfried

__all__ = ["SiegfriedChild", "main", "scan"]


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
