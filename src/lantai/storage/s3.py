"""Packages in S3-compatible object storage (AWS S3, SeaweedFS, MinIO, Ceph RGW …) via boto3.

Layout under ``<bucket>/<prefix>``::

    objects/<id>/<path>     the objects of a package
    index/<id>.json         its index (:mod:`lantai.storage.index`) — the commit mark

A package is committed when its index object exists: objects are uploaded first, the index last,
so readers (which always start from the index) never see a half-written package, and objects
without an index are an abandoned write (:meth:`S3ObjectStore.incoming`). Content addressing is
the same as the local store: a key names the bytes whose size/SHA-256/SM3 the index records.

Streaming: an object up to ``part_size`` bytes is read into one buffer and sent with one PUT
after its digests were checked; a larger one goes up as a multipart upload, one part in memory at
a time, and the upload is only *completed* after size, SHA-256 and SM3 were checked — a mismatch
aborts it, so wrong bytes never become visible. Reads stream the GET body in 1 MiB chunks.

Writing a package id that is already committed uploads nothing: the bytes are hashed and the
commit compares them with the stored index (no-op when equal, PackageExists otherwise), so
committed objects are never overwritten — except by :meth:`S3ObjectStore.repair_object`.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from lantai.crypto.digest import digest_bytes
from lantai.storage.base import (
    DestructionOrder,
    DestructionResult,
    InvalidKey,
    LocationUnreachable,
    ObjectInfo,
    ObjectMismatch,
    ObjectNotFound,
    PackageExists,
    PackageInfo,
    PackageWriter,
    check_order,
    check_package_id,
    check_path,
    split_key,
)
from lantai.storage.index import (
    IndexedObjectStore,
    apply_destruction,
    doc_bytes,
    index_bytes,
    now_created,
    package_info,
)
from lantai.storage.verified import check_received, check_repair, hash_chunks

__all__ = ["S3ObjectStore", "S3Settings"]

log = logging.getLogger("lantai.storage")

MIN_PART = 5 << 20  # S3 minimum part size (all parts but the last)


@dataclass(frozen=True, kw_only=True)
class S3Settings:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    prefix: str = ""
    region: str = "us-east-1"
    part_size: int = 64 << 20
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    create_bucket: bool = False


def _client(cfg: S3Settings) -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    return boto3.client(
        "s3",
        endpoint_url=cfg.endpoint,
        aws_access_key_id=cfg.access_key,
        aws_secret_access_key=cfg.secret_key,
        region_name=cfg.region,
        config=Config(
            s3={"addressing_style": "path"},
            connect_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            # Our own SHA-256 + SM3 check every byte; skip botocore's extra CRC pass.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=16,
        ),
    )


def _is_missing(exc: Exception) -> bool:
    resp = getattr(exc, "response", None)
    if not isinstance(resp, dict):
        return False
    code = str(resp.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound", "NoSuchUpload")


class _Body(io.RawIOBase):
    """A GET body as a raw binary stream."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._body.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class _S3Writer(PackageWriter):
    def __init__(self, store: S3ObjectStore, package_id: str) -> None:
        self.store = store
        self.package_id = check_package_id(package_id)
        self.objects: dict[str, ObjectInfo] = {}
        self._existing = store._load_index(package_id)  # committed already: verify only
        self._done: PackageInfo | None = None

    def _check_new(self, path: str) -> None:
        check_path(path)
        if path in self.objects:
            raise InvalidKey(f"对象「{path}」在包 {self.package_id} 中重复写入")

    def put_file(
        self,
        path: str,
        source: Path,
        *,
        size: int,
        sha256: str,
        sm3: str,
        verified: bool = False,
        link: bool = False,
    ) -> ObjectInfo:
        with source.open("rb") as f:
            return self.put_stream(path, f, size=size, sha256=sha256, sm3=sm3)

    def put_stream(
        self, path: str, stream: BinaryIO, *, size: int, sha256: str, sm3: str | None = None
    ) -> ObjectInfo:
        self._check_new(path)
        key = f"{self.package_id}/{path}"
        if self._existing is not None:
            got = hash_chunks(stream, limit=size)
            info = check_received(path, key, got, size, sha256, sm3)
        else:
            info = self.store._upload(self.store._object_key(key), stream, size, sha256, sm3, key)
        self.objects[path] = info
        return info

    def put_bytes(self, path: str, data: bytes) -> ObjectInfo:
        d = digest_bytes(data)
        return self.put_stream(path, io.BytesIO(data), size=d.size, sha256=d.sha256, sm3=d.sm3)

    def commit(self) -> PackageInfo:
        if self._done is not None:
            return self._done
        store = self.store
        existing = store._load_index(self.package_id)
        if existing is not None:
            doc, raw = existing
            mine = {p: [o.size, o.sha256] for p, o in self.objects.items()}
            theirs = {p: v[:2] for p, v in doc["objects"].items()}
            if mine != theirs:
                if self._existing is None:  # a concurrent writer committed first
                    self._remove_uploaded(set(self.objects) - set(doc["objects"]))
                raise PackageExists(f"包 {self.package_id} 已存在且内容不同；对象不可改写")
            self._done = package_info(self.package_id, doc, raw)
            return self._done
        data = index_bytes(
            self.package_id, self.created or now_created(), self.objects, self.destroyed
        )
        with store._calls():
            store.client.put_object(
                Bucket=store.cfg.bucket,
                Key=store._index_key(self.package_id),
                Body=data,
                ContentType="application/json",
            )
        self._done = package_info(self.package_id, json.loads(data), data)
        return self._done

    def _remove_uploaded(self, paths: set[str]) -> None:
        keys = [self.store._object_key(f"{self.package_id}/{p}") for p in paths]
        self.store._delete_keys(keys)

    def abort(self) -> None:
        if (
            self._done is None
            and self._existing is None
            and self.store._load_index(self.package_id) is None
        ):
            self._remove_uploaded(set(self.objects))


class S3ObjectStore(IndexedObjectStore):
    """Packages in one bucket (and key prefix) of an S3-compatible service."""

    read_parallelism = 8

    def __init__(self, cfg: S3Settings, *, client: Any = None) -> None:
        if cfg.part_size < MIN_PART:
            raise ValueError(f"part_size must be at least {MIN_PART} bytes")
        self.cfg = cfg
        self.client = client if client is not None else _client(cfg)
        self._prefix = cfg.prefix.strip("/") + "/" if cfg.prefix.strip("/") else ""
        self._index_cache: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._cache_lock = threading.Lock()
        self._bucket_checked = False

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.cfg.endpoint}/{self.cfg.bucket}/{self._prefix})"

    # -- keys, calls, index ----------------------------------------------------------------------

    def _object_key(self, key: str) -> str:
        return f"{self._prefix}objects/{key}"

    def _index_key(self, package_id: str) -> str:
        return f"{self._prefix}index/{package_id}.json"

    @contextmanager
    def _calls(self) -> Iterator[None]:
        """Connection failures and time-outs become LocationUnreachable."""
        from botocore.exceptions import (  # type: ignore[import-untyped]
            BotoCoreError,
            ConnectionError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        try:
            yield
        except (
            EndpointConnectionError,
            ConnectTimeoutError,
            ReadTimeoutError,
            ConnectionError,
        ) as exc:
            raise LocationUnreachable(
                f"对象存储 {self.cfg.endpoint} 不可访问或响应超时：{exc}"
            ) from exc
        except BotoCoreError as exc:
            raise LocationUnreachable(f"对象存储 {self.cfg.endpoint} 出错：{exc}") from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_checked or not self.cfg.create_bucket:
            return
        with self._calls():
            try:
                self.client.head_bucket(Bucket=self.cfg.bucket)
            except Exception as exc:
                if not _is_missing(exc):
                    raise
                self.client.create_bucket(Bucket=self.cfg.bucket)
        self._bucket_checked = True

    def _load_index(self, package_id: str) -> tuple[dict[str, Any], bytes] | None:
        with self._cache_lock:
            cached = self._index_cache.get(package_id)
        if cached is not None:
            return cached
        self._ensure_bucket()
        with self._calls():
            try:
                resp = self.client.get_object(
                    Bucket=self.cfg.bucket, Key=self._index_key(package_id)
                )
            except Exception as exc:
                if _is_missing(exc):
                    return None
                raise
            raw = cast(bytes, resp["Body"].read())
        doc: dict[str, Any] = json.loads(raw)
        with self._cache_lock:
            if len(self._index_cache) > 1024:
                self._index_cache.clear()
            self._index_cache[package_id] = (doc, raw)
        return doc, raw

    def _forget(self, package_id: str) -> None:
        with self._cache_lock:
            self._index_cache.pop(package_id, None)

    def _upload(
        self, s3_key: str, stream: BinaryIO, size: int, sha256: str, sm3: str | None, key: str
    ) -> ObjectInfo:
        """Stream ``stream`` to ``s3_key``; visible only if size and digests match."""
        path = key.partition("/")[2]
        part_size = self.cfg.part_size
        self._ensure_bucket()
        if size <= part_size:
            buf = bytearray()
            got = hash_chunks(stream, buf.extend, limit=size)
            info = check_received(path, key, got, size, sha256, sm3)
            with self._calls():
                self.client.put_object(Bucket=self.cfg.bucket, Key=s3_key, Body=bytes(buf))
            return info
        with self._calls():
            upload_id = self.client.create_multipart_upload(Bucket=self.cfg.bucket, Key=s3_key)[
                "UploadId"
            ]
        parts: list[dict[str, Any]] = []
        buf = bytearray()

        def flush() -> None:
            number = len(parts) + 1
            with self._calls():
                etag = self.client.upload_part(
                    Bucket=self.cfg.bucket,
                    Key=s3_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=bytes(buf),
                )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
            buf.clear()

        def sink(chunk: bytes) -> None:
            buf.extend(chunk)
            if len(buf) >= part_size:
                flush()

        try:
            got = hash_chunks(stream, sink, limit=size)
            info = check_received(path, key, got, size, sha256, sm3)
            if buf or not parts:
                flush()
            with self._calls():
                self.client.complete_multipart_upload(
                    Bucket=self.cfg.bucket,
                    Key=s3_key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.cfg.bucket, Key=s3_key, UploadId=upload_id
                )
            except Exception:  # the service cleans stale uploads itself
                log.warning("could not abort multipart upload of %s", s3_key)
            raise
        return info

    def _delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = keys[i : i + 1000]
            if batch:
                with self._calls():
                    self.client.delete_objects(
                        Bucket=self.cfg.bucket,
                        Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                    )

    def _list_keys(self, prefix: str, delimiter: str = "") -> Iterator[tuple[str, bool]]:
        """(key, is_common_prefix) under ``prefix``, paginated."""
        self._ensure_bucket()
        kwargs: dict[str, Any] = {"Bucket": self.cfg.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        paginator = self.client.get_paginator("list_objects_v2")
        with self._calls():
            for page in paginator.paginate(**kwargs):
                for entry in page.get("CommonPrefixes", []):
                    yield entry["Prefix"], True
                for entry in page.get("Contents", []):
                    yield entry["Key"], False

    # -- interface -------------------------------------------------------------------------------

    def begin(self, package_id: str) -> PackageWriter:
        self._ensure_bucket()
        return _S3Writer(self, package_id)

    def probe(self) -> None:
        with self._calls():
            try:
                self.client.head_bucket(Bucket=self.cfg.bucket)
            except Exception as exc:
                if isinstance(exc, LocationUnreachable):
                    raise
                if _is_missing(exc) and self.cfg.create_bucket:
                    return
                if hasattr(exc, "response"):
                    raise LocationUnreachable(
                        f"对象存储桶 {self.cfg.bucket} 不可访问：{exc}"
                    ) from exc
                raise

    def open(self, key: str) -> BinaryIO:
        package_id, path = split_key(key)
        loaded = self._load_index(package_id)
        if loaded is None or path not in loaded[0]["objects"]:
            raise ObjectNotFound(f"对象「{key}」不存在")
        with self._calls():
            try:
                resp = self.client.get_object(Bucket=self.cfg.bucket, Key=self._object_key(key))
            except Exception as exc:
                if _is_missing(exc):
                    raise ObjectNotFound(f"对象「{key}」已列入包索引，但存储中缺失") from None
                raise
        return cast(BinaryIO, io.BufferedReader(_Body(resp["Body"]), buffer_size=1 << 20))

    def packages(self) -> Iterator[str]:
        base = f"{self._prefix}index/"
        names = [k[len(base) :] for k, _ in self._list_keys(base, "/")]
        for name in sorted(names):
            if name.endswith(".json"):
                yield name[: -len(".json")]

    def repair_object(
        self, key: str, stream: BinaryIO, *, size: int, sha256: str, sm3: str
    ) -> ObjectInfo:
        package_id, path = split_key(key)
        self._forget(package_id)
        loaded = self._load_index(package_id)
        entry = loaded[0]["objects"].get(path) if loaded is not None else None
        if entry is None:
            raise ObjectNotFound(f"对象「{key}」不在包索引中，不能修复")
        info = check_repair(key, entry, size=size, sha256=sha256, sm3=sm3)
        try:
            self._upload(self._object_key(key), stream, info.size, info.sha256, info.sm3, key)
        except ObjectMismatch as exc:
            raise ObjectMismatch(f"对象「{key}」修复数据与包索引不一致，未写入：{exc}") from exc
        log.warning("repaired object %s in %r", key, self)
        return info

    def destroy_objects(
        self, package_id: str, paths: Sequence[str], *, authorisation: DestructionOrder
    ) -> DestructionResult:
        order = check_order(authorisation)
        check_package_id(package_id)
        paths = [check_path(p) for p in paths]
        self._forget(package_id)
        loaded = self._load_index(package_id)
        if loaded is None:
            raise ObjectNotFound(f"信息包 {package_id} 不在此存储位置")
        new, newly, size = apply_destruction(loaded[0], paths, order)
        data = doc_bytes(new) if newly else loaded[1]
        if newly:  # the index first: readers no longer see the objects
            with self._calls():
                self.client.put_object(
                    Bucket=self.cfg.bucket,
                    Key=self._index_key(package_id),
                    Body=data,
                    ContentType="application/json",
                )
            self._forget(package_id)
        present: list[str] = []
        for p in paths:
            s3_key = self._object_key(f"{package_id}/{p}")
            with self._calls():
                try:
                    self.client.head_object(Bucket=self.cfg.bucket, Key=s3_key)
                except Exception as exc:
                    if _is_missing(exc):
                        continue
                    raise
            present.append(s3_key)
        self._delete_keys(present)
        log.warning("destroyed %s object(s) of %s in %r", len(present), package_id, self)
        return DestructionResult(
            package=package_info(package_id, new, data),
            destroyed=tuple(newly),
            removed=len(present),
            bytes=size,
        )

    def tombstones(self, package_id: str) -> dict[str, Any]:
        loaded = self._load_index(check_package_id(package_id))
        return dict(loaded[0].get("destroyed") or {}) if loaded is not None else {}

    def incoming(self) -> Iterator[str]:
        base = f"{self._prefix}objects/"
        written = {k[len(base) :].rstrip("/") for k, is_dir in self._list_keys(base, "/") if is_dir}
        committed = set(self.packages())
        for package_id in sorted(written - committed):
            # Some services (SeaweedFS) keep an empty "directory" after its objects are gone.
            with self._calls():
                found = self.client.list_objects_v2(
                    Bucket=self.cfg.bucket, Prefix=f"{base}{package_id}/", MaxKeys=1
                ).get("KeyCount", 0)
            if found:
                yield package_id

    def _remove_package_objects(self, package_id: str) -> int:
        keys = [k for k, _ in self._list_keys(f"{self._prefix}objects/{package_id}/")]
        self._delete_keys(keys)
        with self._calls():
            uploads = self.client.list_multipart_uploads(
                Bucket=self.cfg.bucket, Prefix=f"{self._prefix}objects/{package_id}/"
            ).get("Uploads", [])
            for up in uploads:
                self.client.abort_multipart_upload(
                    Bucket=self.cfg.bucket, Key=up["Key"], UploadId=up["UploadId"]
                )
        return len(keys) + len(uploads)

    def discard_uncommitted(
        self, package_id: str, *, reason: str, referenced: Callable[[str], bool]
    ) -> bool:
        check_package_id(package_id)
        if referenced(package_id):
            return False
        removed = False
        self._forget(package_id)
        if self._load_index(package_id) is not None:
            with self._calls():
                self.client.delete_object(Bucket=self.cfg.bucket, Key=self._index_key(package_id))
            self._forget(package_id)
            removed = True
        removed = self._remove_package_objects(package_id) > 0 or removed
        if removed:
            log.warning("discarded uncommitted package %s: %s", package_id, reason)
        return removed

    def discard_abandoned_writes(self, package_id: str) -> int:
        check_package_id(package_id)
        self._forget(package_id)
        if self._load_index(package_id) is not None:
            return 0
        removed = self._remove_package_objects(package_id)
        if removed:
            log.warning("removed %s abandoned write(s) of package %s", removed, package_id)
        return removed
