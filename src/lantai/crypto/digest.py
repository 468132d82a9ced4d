"""SHA-256 and SM3 (GB/T 32905) computed together in one streaming read.

SM3 comes from the system OpenSSL through ``hashlib.new("sm3")``; where the Python is linked
against an OpenSSL without SM3, ``cryptography``'s bundled OpenSSL is used instead. Both give the
standard test vector SM3("abc") = 66c7f0f4…8f4ba8e0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from lantai.types import Sha256Hex, Sm3Hex

__all__ = ["CHUNK", "Digests", "digest_bytes", "digest_file", "digest_stream", "new_sm3"]

CHUNK = 1 << 20


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class _CryptographySm3:
    def __init__(self) -> None:
        from cryptography.hazmat.primitives import hashes

        self._h = hashes.Hash(hashes.SM3())

    def update(self, data: bytes, /) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.finalize().hex()


def new_sm3() -> _Hash:
    try:
        return hashlib.new("sm3")
    except ValueError:
        return _CryptographySm3()


@dataclass(frozen=True)
class Digests:
    size: int
    sha256: Sha256Hex
    sm3: Sm3Hex


def digest_stream(chunks: Iterable[bytes]) -> Digests:
    sha, sm3 = hashlib.sha256(), new_sm3()
    size = 0
    for chunk in chunks:
        sha.update(chunk)
        sm3.update(chunk)
        size += len(chunk)
    return Digests(size, Sha256Hex(sha.hexdigest()), Sm3Hex(sm3.hexdigest()))


def _read_chunks(f: BinaryIO) -> Iterable[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def digest_file(path: Path) -> Digests:
    with path.open("rb") as f:
        return digest_stream(_read_chunks(f))


def digest_bytes(data: bytes) -> Digests:
    return digest_stream([data])
