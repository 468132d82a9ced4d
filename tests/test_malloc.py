"""``lantai.malloc``: the glibc arena cap of the long-running processes, counted by glibc itself."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from lantai.malloc import limit_arenas

# Six threads each make one 64 KiB allocation (below glibc's mmap threshold, so from an arena)
# and stay alive until all have, then glibc's malloc_info lists the arenas (<heap nr=…>).
PROBE = textwrap.dedent(
    """
    import ctypes, sys, tempfile, threading
    from lantai.malloc import limit_arenas
    applied = limit_arenas(int(sys.argv[1]))
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    barrier = threading.Barrier(7)
    def one():
        libc.malloc(64 * 1024)
        barrier.wait()
        barrier.wait()
    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    barrier.wait()
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        fp = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, fp)
        libc.fclose(fp)
        arenas = open(out.name, encoding="utf-8").read().count("<heap nr=")
    barrier.wait()
    for t in threads:
        t.join()
    print(applied, arenas)
    """
)

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION"),
    reason="glibc only",
)


def _probe(count: int, **env: str) -> tuple[bool, int]:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(count)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    applied, arenas = done.stdout.split()
    return applied == "True", int(arenas)


@glibc_only
def test_the_cap_holds_the_arenas_of_many_threads() -> None:
    assert _probe(2) == (True, 2)


@glibc_only
def test_without_the_cap_each_thread_gets_an_arena() -> None:
    """The control: glibc's default gives these threads arenas of their own (else the test above
    would prove nothing)."""
    applied, arenas = _probe(0)
    assert not applied
    assert arenas >= 4


@glibc_only
def test_an_explicit_environment_value_wins() -> None:
    assert _probe(2, MALLOC_ARENA_MAX="5") == (False, 5)


def test_zero_keeps_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_arenas(0) is False
    assert "MALLOC_ARENA_MAX" not in os.environ
