"""Copying large files while they are hashed: O_DIRECT on a writer thread, exact bytes, cleanup."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lantai.ingest import digests
from lantai.ingest.digests import hash_file
from lantai.ingest.directcopy import ALIGN, DirectCopy


def _data(size: int) -> bytes:
    return (hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1))[:size]


@pytest.mark.parametrize(
    "size",
    [0, 1, ALIGN, ALIGN + 1, digests.CHUNK, 3 * digests.CHUNK + 7, 2 * digests.CHUNK - ALIGN],
)
def test_copy_is_exact_and_hashes_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    monkeypatch.setattr(digests, "DIRECT_COPY_MIN", 0)  # every copy through DirectCopy
    src = tmp_path / "src.bin"
    src.write_bytes(_data(size))
    target = tmp_path / "sub" / "copy.bin"
    seen: list[int] = []
    h = hash_file(src, copy_to=target, progress=seen.append)
    assert target.read_bytes() == src.read_bytes()
    assert h.sha256 == hashlib.sha256(src.read_bytes()).hexdigest() and h.size == size
    assert sum(seen) == size


def test_unaligned_chunks_fall_back_to_buffered_writes(tmp_path: Path) -> None:
    target = tmp_path / "copy.bin"
    pieces = [_data(ALIGN * 3), _data(100), _data(ALIGN * 2)]  # the 100 breaks the alignment
    with DirectCopy(target, chunk=ALIGN * 4) as out:
        for piece in pieces:
            view = out.buffer()
            view[: len(piece)] = piece
            out.write(len(piece))
    assert target.read_bytes() == b"".join(pieces)
    assert not out.direct  # switched to the page cache after the unaligned piece


def test_a_filesystem_without_o_direct_gets_a_buffered_copy(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no tmpfs to try")
    target = shm / f"lantai-directcopy-{os.getpid()}"
    try:
        with DirectCopy(target) as out:
            view = out.buffer()
            view[:5] = b"hello"
            out.write(5)
        assert target.read_bytes() == b"hello"
    finally:
        target.unlink(missing_ok=True)


def test_an_error_while_hashing_removes_the_partial_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digests, "DIRECT_COPY_MIN", 0)
    src = tmp_path / "src.bin"
    src.write_bytes(_data(3 * digests.CHUNK))
    target = tmp_path / "copy.bin"

    def broken(_n: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        hash_file(src, copy_to=target, progress=broken)
    assert not target.exists()


def test_an_existing_target_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "copy.bin"
    target.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        DirectCopy(target)
    assert target.read_bytes() == b"keep"


def test_a_write_error_reaches_the_hashing_thread(tmp_path: Path) -> None:
    target = tmp_path / "copy.bin"
    out = DirectCopy(target, chunk=ALIGN)
    os.close(out._fd)  # the writer's next write fails with EBADF
    out._fd = os.open(os.devnull, os.O_RDONLY)
    view = out.buffer()
    view[:10] = b"0123456789"
    out.write(10)
    with pytest.raises(OSError):
        out.close()
