"""The local object store: verified writes, atomic package commits, no delete, guarded discard."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from lantai.crypto import digest_bytes
from lantai.storage import (
    InvalidKey,
    LocalObjectStore,
    ObjectMismatch,
    ObjectNotFound,
    ObjectStore,
    PackageExists,
)


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "storage")


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_put_stream_verifies_and_commits_atomically(store: LocalObjectStore) -> None:
    data = "正文内容".encode() * 1000
    d = digest_bytes(data)
    with store.begin("pkg-1") as w:
        info = w.put_stream("data/正文.txt", io.BytesIO(data), size=d.size, sha256=d.sha256)
        assert info.sm3 == d.sm3
        # Not visible before commit.
        assert not store.exists("pkg-1/data/正文.txt")
        assert store.package("pkg-1") is None
        w.put_bytes("manifest-sha256.txt", b"x")
        pkg = w.commit()
    assert pkg.objects == 2 and pkg.bytes == d.size + 1
    assert store.exists("pkg-1/data/正文.txt")
    with store.open("pkg-1/data/正文.txt") as f:
        assert f.read() == data
    st = store.stat("pkg-1/data/正文.txt")
    assert (st.size, st.sha256, st.sm3) == (d.size, d.sha256, d.sm3)
    assert [o.key for o in store.list("pkg-1/")] == [
        "pkg-1/data/正文.txt",
        "pkg-1/manifest-sha256.txt",
    ]
    assert list(store.packages()) == ["pkg-1"]
    assert list(store.incoming()) == []
    # Stored files are read-only.
    final = store.root / "packages" / "pk" / "pkg-1" / "data" / "正文.txt"
    assert not os.access(final, os.W_OK) or os.geteuid() == 0
    assert final.stat().st_mode & 0o222 == 0


@pytest.mark.parametrize(
    ("size_delta", "sha", "sm3", "word"),
    [
        (1, None, None, "大小不符"),
        (0, "0" * 64, None, "SHA-256 不符"),
        (0, None, "0" * 64, "SM3 不符"),
    ],
)
def test_wrong_size_or_digest_keeps_nothing(
    store: LocalObjectStore, size_delta: int, sha: str | None, sm3: str | None, word: str
) -> None:
    data = b"abc" * 100
    d = digest_bytes(data)
    with pytest.raises(ObjectMismatch) as exc, store.begin("bad") as w:
        w.put_stream(
            "a.bin",
            io.BytesIO(data),
            size=d.size + size_delta,
            sha256=sha or d.sha256,
            sm3=sm3,
        )
    assert word in exc.value.message and "a.bin" in exc.value.message
    assert store.package("bad") is None
    assert list(store.incoming()) == []
    assert not any((store.root / "incoming").iterdir())


def test_stream_longer_than_declared_is_refused(store: LocalObjectStore) -> None:
    data = b"x" * 5000
    d = digest_bytes(data[:10])
    with pytest.raises(ObjectMismatch), store.begin("long") as w:
        w.put_stream("a", io.BytesIO(data), size=10, sha256=d.sha256)


def test_put_file_verified_links_and_checks_size(store: LocalObjectStore, tmp_path: Path) -> None:
    data = b"staged bytes"
    d = digest_bytes(data)
    src = _file(tmp_path, "staged.bin", data)
    with store.begin("linked") as w:
        w.put_file(
            "data/a.bin", src, size=d.size, sha256=d.sha256, sm3=d.sm3, verified=True, link=True
        )
        w.put_file("data/copy.bin", src, size=d.size, sha256=d.sha256, sm3=d.sm3, verified=True)
        w.commit()
    final = store.root / "packages" / "li" / "linked" / "data" / "a.bin"
    assert final.stat().st_ino == src.stat().st_ino  # no copy: one read per byte in ingest
    copied = store.root / "packages" / "li" / "linked" / "data" / "copy.bin"
    assert copied.stat().st_ino != src.stat().st_ino  # not ours to link: copied
    assert copied.read_bytes() == data
    with pytest.raises(ObjectMismatch), store.begin("linked2") as w:
        w.put_file("a.bin", src, size=d.size + 1, sha256=d.sha256, sm3=d.sm3, verified=True)
    # Unverified files are hashed while copied.
    with pytest.raises(ObjectMismatch), store.begin("linked3") as w:
        w.put_file("a.bin", src, size=d.size, sha256="1" * 64, sm3=d.sm3)


def test_commit_is_idempotent_and_objects_immutable(store: LocalObjectStore) -> None:
    def write(pid: str, data: bytes) -> None:
        with store.begin(pid) as w:
            w.put_bytes("a.txt", data)
            w.commit()

    write("same", b"one")
    first = store.package("same")
    write("same", b"one")  # the same package again (a resumed ingest): no-op
    assert store.package("same") == first
    with pytest.raises(PackageExists):
        write("same", b"two")
    with store.open("same/a.txt") as f:
        assert f.read() == b"one"


def test_uncommitted_leftovers_are_invisible_and_replaced(store: LocalObjectStore) -> None:
    # A commit that died after renaming the directory but before writing the index.
    final = store.root / "packages" / "cr" / "crashed"
    final.mkdir(parents=True)
    (final / "junk").write_bytes(b"half")
    w = store.begin("crashed")
    w.put_bytes("a.txt", b"a")
    # and another writer that died before committing
    dead = store.begin("crashed")
    dead.put_bytes("b.txt", b"b")
    assert store.package("crashed") is None
    assert not store.exists("crashed/junk")
    assert list(store.incoming()) == ["crashed"]
    w.commit()
    assert [o.key for o in store.list("crashed/")] == ["crashed/a.txt"]
    assert not (final / "junk").exists()


def test_discard_uncommitted_is_guarded(store: LocalObjectStore) -> None:
    with store.begin("orphan") as w:
        w.put_bytes("a.txt", b"a")
        w.commit()
    store.begin("orphan").put_bytes("b.txt", b"b")  # abandoned write
    assert not store.discard_uncommitted("orphan", reason="test", referenced=lambda _: True)
    assert store.exists("orphan/a.txt")
    assert store.discard_uncommitted("orphan", reason="test", referenced=lambda _: False)
    assert store.package("orphan") is None
    assert list(store.incoming()) == []
    assert not store.discard_uncommitted("orphan", reason="again", referenced=lambda _: False)


def test_no_public_delete() -> None:
    public = {n for n in dir(ObjectStore) if not n.startswith("_")}
    assert not {n for n in public if "delete" in n or "remove" in n}
    assert "discard_uncommitted" in public


@pytest.mark.parametrize(
    "key",
    ["nopackage", "pkg/../x", "pkg//x", "/abs/x", "pkg/a\\b", "pk g/x", "pkg/./x", "pkg/x\x00"],
)
def test_bad_keys_are_refused(store: LocalObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put(key, io.BytesIO(b""), size=0, sha256=hashlib.sha256(b"").hexdigest())


def test_missing_objects(store: LocalObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.stat("nothing/here")
    with pytest.raises(ObjectNotFound):
        store.open("nothing/here")
    assert not store.exists("nothing/here")


def test_single_object_put(store: LocalObjectStore) -> None:
    data = b"report"
    d = digest_bytes(data)
    info = store.put("r1/report.json", io.BytesIO(data), size=d.size, sha256=d.sha256, sm3=d.sm3)
    assert info.key == "r1/report.json"
    assert store.stat("r1/report.json").sm3 == d.sm3


def test_large_package_commits_with_one_filesystem_sync(store: LocalObjectStore) -> None:
    with store.begin("many") as w:
        for i in range(100):
            w.put_bytes(f"data/{i:03}.txt", str(i).encode())
        info = w.commit()
    assert info.objects == 100
    assert len(list(store.list("many/data/"))) == 100
