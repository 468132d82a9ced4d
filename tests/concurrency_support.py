"""Run one function in many threads released at the same moment (race tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def race(threads: int, fn: Callable[[int], T]) -> list[T | BaseException]:
    """``fn(i)`` for i in range(threads), all started behind one barrier; each result, or the
    exception it raised, in thread order."""
    gate = threading.Barrier(threads)
    out: list[T | BaseException] = [RuntimeError("not run")] * threads

    def run(i: int) -> None:
        gate.wait()
        try:
            out[i] = fn(i)
        except BaseException as exc:  # returned to the caller, which asserts on it
            out[i] = exc

    started = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    return out


def failures(results: list[T | BaseException]) -> list[BaseException]:
    """The exceptions among ``race``'s results."""
    return [r for r in results if isinstance(r, BaseException)]
