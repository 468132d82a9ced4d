"""Copying bytes while proving they are the bytes the package index names.

Used by every backend's :meth:`~lantai.storage.base.ObjectStore.repair_object` and by replica
copies: :func:`check_repair` refuses a repair whose declared digests differ from the index entry,
:func:`copy_verified` streams and hashes (SHA-256 + SM3, one read) and raises
:class:`~lantai.storage.base.ObjectMismatch` when the bytes are not those.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import BinaryIO, Protocol

from lantai.crypto.digest import CHUNK, new_sm3
from lantai.storage.base import ObjectInfo, ObjectMismatch

__all__ = ["check_received", "check_repair", "copy_verified", "hash_chunks"]


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


def check_repair(
    key: str, entry: Sequence[object], *, size: int, sha256: str, sm3: str
) -> ObjectInfo:
    """The index entry as ObjectInfo, if the repair declares exactly its size and digests."""
    want = (int(str(entry[0])), str(entry[1]), str(entry[2]))
    if (size, sha256.lower(), sm3.lower()) != want:
        raise ObjectMismatch(
            f"拒绝修复对象「{key}」：提供的大小/摘要与包索引不一致"
            f"（索引：{want[0]} 字节，SHA-256 {want[1]}）"
        )
    return ObjectInfo(key=key, size=want[0], sha256=want[1], sm3=want[2])


def hash_chunks(
    stream: BinaryIO, sink: Callable[[bytes], object] | None = None, *, limit: int | None = None
) -> tuple[int, str, str]:
    """(size, sha256, sm3) of what ``stream`` yields, passing each chunk to ``sink``.

    Stops reading once more than ``limit`` bytes arrived (the caller reports the excess).
    """
    sha, sm = hashlib.sha256(), new_sm3()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            break
        sha.update(chunk)
        sm.update(chunk)
        if sink is not None:
            sink(chunk)
    return size, sha.hexdigest(), sm.hexdigest()


def copy_verified(stream: BinaryIO, out: _Writable, info: ObjectInfo) -> None:
    """Copy ``stream`` to ``out``; ObjectMismatch unless the bytes have ``info``'s digests."""
    size, sha, sm3 = hash_chunks(stream, out.write, limit=info.size)
    if size != info.size:
        raise ObjectMismatch(f"对象「{info.key}」修复数据大小不符：应为 {info.size} 字节")
    if sha != info.sha256 or sm3 != info.sm3:
        raise ObjectMismatch(f"对象「{info.key}」修复数据摘要与包索引不一致，未写入")


def check_received(
    path: str, key: str, got: tuple[int, str, str], size: int, sha256: str, sm3: str | None
) -> ObjectInfo:
    written, got_sha, got_sm3 = got
    problem = None
    if written != size:
        problem = (
            f"大小不符：应为 {size} 字节，实际{'超过' if written > size else ''} {written} 字节"
        )
    elif got_sha != sha256.lower():
        problem = f"SHA-256 不符：应为 {sha256}，实际 {got_sha}"
    elif sm3 is not None and got_sm3 != sm3.lower():
        problem = f"SM3 不符：应为 {sm3}，实际 {got_sm3}"
    if problem is not None:
        raise ObjectMismatch(f"对象「{path}」{problem}；未保存")
    return ObjectInfo(key=key, size=size, sha256=got_sha, sm3=got_sm3)
