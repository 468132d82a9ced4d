"""SHA-256 + SM3 of staged files: one read per byte, files in parallel, extras in the same read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lantai.ingest import digests
from lantai.ingest.digests import (
    HashingWriter,
    hash_file,
    hash_files,
    new_hash,
    normalize_algorithm,
)
from lantai.ingest.transfer import TransferFile

SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def _files(tmp_path: Path, sizes: list[int]) -> list[TransferFile]:
    out = []
    for i, size in enumerate(sizes):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(os.urandom(size))
        out.append(TransferFile(path=f"f{i}.bin", local=p, size=size))
    return out


def test_sm3_known_answer_and_sha256(tmp_path: Path) -> None:
    p = tmp_path / "abc"
    p.write_bytes(b"abc")
    h = hash_file(p)
    assert h.sm3 == SM3_ABC
    assert h.sha256 == hashlib.sha256(b"abc").hexdigest()
    assert h.size == 3


def test_algorithm_names() -> None:
    assert normalize_algorithm("SHA-256") == "sha256"
    assert normalize_algorithm(" SM3 ") == "sm3"
    h = new_hash("sm3")
    h.update(b"abc")
    assert h.hexdigest() == SM3_ABC
    with pytest.raises(digests.UnknownAlgorithm) as exc:
        new_hash("whirlpool-9")
    assert "whirlpool-9" in exc.value.message


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_hash_files_fills_every_file_once(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(tmp_path, [0, 1, 4096, (1 << 20) + 7, 3 << 20])
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        opened.append(os.fspath(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(digests.os, "open", counting_open)
    seen: list[int] = []
    out = hash_files(files, workers=workers, progress=seen.append)
    assert sorted(opened) == sorted(str(f.local) for f in files)  # each file read once
    assert sum(seen) == sum(f.stat().st_size for f in tmp_path.iterdir())
    for f, got in zip(files, out, strict=True):
        data = f.local.read_bytes()
        sm3 = new_hash("sm3")
        sm3.update(data)
        assert f.sha256 == hashlib.sha256(data).hexdigest() == (got or {})["sha256"]
        assert f.sm3 == sm3.hexdigest()
        assert f.size == len(data)


def test_already_hashed_files_are_not_read_again(tmp_path: Path) -> None:
    files = _files(tmp_path, [10, 20])
    files[0].sha256, files[0].sm3 = "a" * 64, "b" * 64
    files[0].local.unlink()  # would fail if it were read
    out = hash_files(files, workers=2)
    assert out[0] is None
    assert files[0].sha256 == "a" * 64
    assert out[1] is not None and files[1].sha256 == out[1]["sha256"]


def test_extra_algorithms_in_the_same_read(tmp_path: Path) -> None:
    files = _files(tmp_path, [100_000, 5])
    out = hash_files(
        files, workers=2, extra=lambda f: ("md5", "SHA-512") if f.path == "f0.bin" else ()
    )
    data = files[0].local.read_bytes()
    first = out[0]
    assert first is not None
    assert first["md5"] == hashlib.md5(data).hexdigest()
    assert first["sha512"] == hashlib.sha512(data).hexdigest()
    assert set(out[1] or {}) == {"sha256", "sm3"}


def test_hashing_writer_hashes_what_it_writes(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with HashingWriter(target, extra=("md5",)) as w:
        w.write(b"ab")
        w.write(memoryview(b"c"))
    assert target.read_bytes() == b"abc"
    assert w.hashes.sm3 == SM3_ABC
    assert w.hashes.all()["md5"] == hashlib.md5(b"abc").hexdigest()


def test_hashing_writer_leaves_nothing_on_error_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(OverflowError), HashingWriter(target, max_bytes=3) as w:
        w.write(b"ab")
        w.write(b"cd")
    assert not target.exists()
    target.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        HashingWriter(target)
    assert target.read_bytes() == b"keep"


def test_copy_while_hashing_writes_exactly_the_bytes_hashed(tmp_path: Path) -> None:
    files = _files(tmp_path, [0, 10, 3 * digests.CHUNK + 7])
    originals = [f.local for f in files]
    staging = tmp_path / "staging"
    hash_files(files, workers=2, copy_to=lambda f: staging / "copies" / f.path)
    for f, original in zip(files, originals, strict=True):
        assert f.local == staging / "copies" / f.path  # later steps read the copy
        data = f.local.read_bytes()
        assert data == original.read_bytes()
        assert f.sha256 == hashlib.sha256(data).hexdigest() and f.size == len(data)


def test_a_failed_copy_leaves_no_partial_file(tmp_path: Path) -> None:
    (src,) = _files(tmp_path, [100])
    taken = tmp_path / "copy"
    taken.write_bytes(b"someone else's")  # copies are created exclusively
    with pytest.raises(FileExistsError):
        hash_file(src.local, copy_to=taken)
    assert taken.read_bytes() == b"someone else's"
    target = tmp_path / "sub" / "copy"
    src.local.chmod(0)
    if os.geteuid() != 0:  # root reads anyway
        with pytest.raises(PermissionError):
            hash_file(src.local, copy_to=target)
        assert not target.exists()
