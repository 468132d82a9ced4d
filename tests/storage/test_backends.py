"""The ObjectStore contract, run against every backend (local, S3 on SeaweedFS, tar volumes)."""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lantai.crypto import digest_bytes
from lantai.storage import InvalidKey, ObjectMismatch, ObjectNotFound, ObjectStore, PackageExists


def _put(store: ObjectStore, pid: str, objects: dict[str, bytes]) -> None:
    with store.begin(pid) as w:
        for path, data in objects.items():
            w.put_bytes(path, data)
        w.commit()


def test_write_commit_read(any_store: ObjectStore) -> None:
    data = "正文内容".encode() * 1000
    d = digest_bytes(data)
    with any_store.begin("pkg-1") as w:
        info = w.put_stream("data/正文.txt", io.BytesIO(data), size=d.size, sha256=d.sha256)
        assert info.sm3 == d.sm3
        assert any_store.package("pkg-1") is None  # invisible before commit
        assert not any_store.exists("pkg-1/data/正文.txt")
        w.put_bytes("manifest-sha256.txt", b"x")
        pkg = w.commit()
    assert (pkg.objects, pkg.bytes) == (2, d.size + 1)
    with any_store.open("pkg-1/data/正文.txt") as f:
        assert f.read() == data
    st = any_store.stat("pkg-1/data/正文.txt")
    assert (st.size, st.sha256, st.sm3) == (d.size, d.sha256, d.sm3)
    assert [o.key for o in any_store.list("pkg-1/")] == [
        "pkg-1/data/正文.txt",
        "pkg-1/manifest-sha256.txt",
    ]
    assert list(any_store.packages()) == ["pkg-1"]
    assert list(any_store.incoming()) == []
    assert any_store.package("pkg-1") == pkg


def test_large_object_streams_in_parts(any_store: ObjectStore) -> None:
    data = os.urandom(12 << 20)  # > the 5 MiB test part size: a multipart upload on S3
    d = digest_bytes(data)
    with any_store.begin("big") as w:
        w.put_stream("data/big.bin", io.BytesIO(data), size=d.size, sha256=d.sha256, sm3=d.sm3)
        w.commit()
    h = hashlib.sha256()
    with any_store.open("big/data/big.bin") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    assert h.hexdigest() == d.sha256


def test_objects_put_from_several_threads(any_store: ObjectStore, tmp_path: Path) -> None:
    """The AIP builder stores a package's payload on a few threads: every backend's writer
    takes concurrent puts of different paths."""
    objects = {f"data/{i:03d}.bin": os.urandom(50_000 + i) for i in range(48)}
    for path, data in objects.items():
        (tmp_path / path.replace("/", "_")).write_bytes(data)

    with any_store.begin("threads") as w:

        def put(path: str) -> None:
            d = digest_bytes(objects[path])
            source = tmp_path / path.replace("/", "_")
            w.put_file(path, source, size=d.size, sha256=d.sha256, sm3=d.sm3)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(put, objects))
        pkg = w.commit()
    assert pkg.objects == len(objects)
    for path, data in objects.items():
        with any_store.open(f"threads/{path}") as f:
            assert f.read() == data, path


@pytest.mark.parametrize(
    ("size_delta", "sha", "sm3", "word"),
    [
        (1, None, None, "大小不符"),
        (0, "0" * 64, None, "SHA-256 不符"),
        (0, None, "0" * 64, "SM3 不符"),
    ],
)
def test_wrong_bytes_keep_nothing(
    any_store: ObjectStore, size_delta: int, sha: str | None, sm3: str | None, word: str
) -> None:
    data = os.urandom(7 << 20)  # multipart on S3: the upload is aborted, never completed
    d = digest_bytes(data)
    with pytest.raises(ObjectMismatch) as exc, any_store.begin("bad") as w:
        w.put_stream(
            "a.bin", io.BytesIO(data), size=d.size + size_delta, sha256=sha or d.sha256, sm3=sm3
        )
    assert word in exc.value.message and "a.bin" in exc.value.message
    assert any_store.package("bad") is None
    assert list(any_store.incoming()) == []


def test_same_package_again_is_noop_and_different_refused(any_store: ObjectStore) -> None:
    _put(any_store, "same", {"a.txt": b"one"})
    first = any_store.package("same")
    _put(any_store, "same", {"a.txt": b"one"})
    assert any_store.package("same") == first
    with pytest.raises(PackageExists):
        _put(any_store, "same", {"a.txt": b"two"})
    with any_store.open("same/a.txt") as f:
        assert f.read() == b"one"


def test_replica_with_same_created_has_same_package_digest(
    any_store: ObjectStore, tmp_path: object
) -> None:
    from lantai.storage import LocalObjectStore

    ref = LocalObjectStore(__import__("pathlib").Path(str(tmp_path)) / "ref")
    objects = {"a.txt": b"A", "data/b.bin": os.urandom(1000)}
    _put(ref, "rep", objects)
    src = ref.package("rep")
    assert src is not None
    with any_store.begin("rep") as w:
        w.created = src.created
        for info in ref.list("rep/"):
            with ref.open(info.key) as f:
                w.put_stream(
                    info.key.partition("/")[2], f, size=info.size, sha256=info.sha256, sm3=info.sm3
                )
        w.commit()
    assert any_store.package("rep") == src


def test_repair_object_only_with_index_bytes(any_store: ObjectStore) -> None:
    good = os.urandom(3000)
    d = digest_bytes(good)
    _put(any_store, "rp", {"data/x.bin": good})
    with pytest.raises(ObjectMismatch):  # declared digests differ from the index
        any_store.repair_object(
            "rp/data/x.bin",
            io.BytesIO(b"evil"),
            size=4,
            sha256=digest_bytes(b"evil").sha256,
            sm3=digest_bytes(b"evil").sm3,
        )
    with pytest.raises(ObjectMismatch):  # declared right, bytes wrong
        any_store.repair_object(
            "rp/data/x.bin", io.BytesIO(b"\0" * 3000), size=d.size, sha256=d.sha256, sm3=d.sm3
        )
    with pytest.raises(ObjectNotFound):  # a repair never adds objects
        any_store.repair_object(
            "rp/data/new.bin", io.BytesIO(good), size=d.size, sha256=d.sha256, sm3=d.sm3
        )
    any_store.repair_object(
        "rp/data/x.bin", io.BytesIO(good), size=d.size, sha256=d.sha256, sm3=d.sm3
    )
    with any_store.open("rp/data/x.bin") as f:
        assert f.read() == good


def test_guarded_discard_and_abandoned_writes(any_store: ObjectStore) -> None:
    _put(any_store, "orphan", {"a.txt": b"a"})
    assert not any_store.discard_uncommitted("orphan", reason="t", referenced=lambda _: True)
    assert any_store.exists("orphan/a.txt")
    assert any_store.discard_uncommitted("orphan", reason="t", referenced=lambda _: False)
    assert any_store.package("orphan") is None
    dead = any_store.begin("dead")
    dead.put_bytes("b.txt", b"b")
    if list(any_store.incoming()):  # backends that stage (local, tar) or upload early (S3)
        assert list(any_store.incoming()) == ["dead"]
        assert any_store.discard_abandoned_writes("dead") >= 1
    assert list(any_store.incoming()) == []


def test_missing_and_bad_keys(any_store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        any_store.open("nothing/here")
    assert not any_store.exists("nothing/here")
    with pytest.raises(InvalidKey):
        any_store.put("pkg/../x", io.BytesIO(b""), size=0, sha256=hashlib.sha256(b"").hexdigest())


def test_probe_and_space(any_store: ObjectStore) -> None:
    any_store.probe()
    space = any_store.space()
    assert space is None or (0 < space[0] <= space[1])
