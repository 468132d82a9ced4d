"""Digests (SHA-256 + SM3 in one read) and keyed hash chains (HMAC-SM3)."""

from lantai.crypto.chain import chain_hash
from lantai.crypto.digest import Digests, digest_bytes, digest_file, digest_stream, new_sm3

__all__ = ["Digests", "chain_hash", "digest_bytes", "digest_file", "digest_stream", "new_sm3"]
