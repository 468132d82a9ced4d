"""Resumable upload of a transfer package (online transfer API for agency systems).

Protocol (the JSON API in :mod:`lantai.web.api.transfers` maps one route to each function):

1. :func:`create_upload` with an idempotency key, the file name, its size and SHA-256 → an
   upload id. The same key from the same account again returns the same upload (and, once
   completed, the same transfer); the same key with another size or digest is a conflict.
2. :func:`write_chunk` appends bytes at the current offset (``Content-Range: bytes a-b/total``);
   a chunk must start exactly at the offset the server has (:func:`upload_offset`), so a client
   that lost its connection asks for the offset and continues from there. Each chunk is fsynced
   before the new offset is committed.
3. :func:`complete_upload` checks the size and the SHA-256 against the declaration, then
   submits the package as a transfer (the ingest job starts); a wrong digest empties the
   upload so it can be sent again, and nothing is submitted.

:func:`receive_file` takes a whole package in one request (the web page's upload form).

The bytes are hashed (SHA-256 + SM3) as they arrive, so the package digest costs no extra read:
:class:`UploadHashes` keeps the running hash state per upload (in the web app's state). When a
chunk arrives at an offset the running state does not match (another process took the previous
chunk, or the server restarted), the prefix is hashed again from disk once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal, Protocol

from sqlalchemy import select, update

from lantai.crypto.digest import CHUNK, new_sm3
from lantai.errors import Conflict, InputError, NotFound, Problem, ValidationFailed
from lantai.ingest.service import Submission, submit, upload_dir
from lantai.instance import Instance
from lantai.security import Actor, Perm
from lantai.store import IngestTransfer, IngestUpload, utcnow

__all__ = [
    "UploadHashes",
    "UploadTooLarge",
    "complete_upload",
    "create_upload",
    "get_upload",
    "parse_content_range",
    "receive_file",
    "upload_json",
    "upload_offset",
    "write_chunk",
]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class UploadTooLarge(InputError):
    status = 413
    code = "upload_too_large"


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> _Hash: ...


@dataclass
class _Running:
    offset: int
    sha256: _Hash
    sm3: _Hash


class UploadHashes:
    """Running SHA-256 + SM3 state of uploads in progress, keyed by upload id (thread-safe)."""

    def __init__(self) -> None:
        self._state: dict[str, _Running] = {}
        self._lock = threading.Lock()

    def take(self, uid: str, offset: int) -> _Running | None:
        with self._lock:
            found = self._state.pop(uid, None)
        return found if found is not None and found.offset == offset else None

    def put(self, uid: str, running: _Running) -> None:
        with self._lock:
            self._state[uid] = running

    def drop(self, uid: str) -> None:
        with self._lock:
            self._state.pop(uid, None)


def _new_running() -> _Running:
    return _Running(0, hashlib.sha256(), new_sm3())  # type: ignore[arg-type]


def _hash_prefix(path: Path, length: int) -> _Running:
    running = _new_running()
    with path.open("rb") as f:
        left = length
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                break
            running.sha256.update(chunk)
            running.sm3.update(chunk)
            left -= len(chunk)
    running.offset = length - left
    return running


def _safe_name(name: str) -> str:
    """The web layer cleans client file names; here only a plain, single component passes."""
    name = unicodedata.normalize("NFC", name).strip()
    if (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or PurePosixPath(name).name != name
        or "\\" in name
        or any(not ch.isprintable() for ch in name)
        or len(name.encode("utf-8")) > 255
    ):
        raise ValidationFailed(
            "上传未创建",
            [Problem(field="filename", value=name[:100], message="文件名须为不含路径的普通文件名")],
        )
    return name


def data_path(inst: Instance, upload: IngestUpload) -> Path:
    return upload_dir(inst.settings, upload.uid) / upload.filename


def create_upload(
    inst: Instance,
    actor: Actor,
    *,
    idempotency_key: str,
    filename: str,
    size: int,
    sha256: str,
    fonds_code: str | None = None,
    category: str | None = None,
    stage: Literal["YJ", "GD"] = "YJ",
) -> tuple[IngestUpload, bool]:
    """A new upload, or the existing one of this idempotency key; returns (upload, created)."""
    actor.require(Perm.INGEST_TRANSFER_SUBMIT)
    sha256 = sha256.strip().lower()
    problems: list[Problem] = []
    if not idempotency_key.strip() or len(idempotency_key) > 200:
        problems.append(Problem(field="idempotency_key", message="幂等键长度应为 1–200 个字符"))
    if not _SHA256.match(sha256):
        problems.append(
            Problem(field="sha256", value=sha256[:80], message="应为 64 位十六进制 SHA-256 摘要")
        )
    if size < 1:
        problems.append(Problem(field="size", value=str(size), message="大小应为正整数（字节）"))
    if problems:
        raise ValidationFailed("上传未创建", problems)
    limit = inst.settings.ingest_max_package_mb << 20
    if size > limit:
        raise UploadTooLarge(
            f"移交包超过上限 {inst.settings.ingest_max_package_mb} MiB",
            [
                Problem(
                    field="size",
                    value=str(size),
                    rule="LANTAI_INGEST_MAX_PACKAGE_MB",
                    message="移交包过大",
                )
            ],
        )
    with inst.db.write() as s:
        existing = s.scalar(
            select(IngestUpload).where(
                IngestUpload.created_by == actor.username,
                IngestUpload.idempotency_key == idempotency_key,
            )
        )
        if existing is not None:
            if existing.declared_size != size or existing.declared_sha256 != sha256:
                raise Conflict(
                    "该幂等键已用于另一份移交包（大小或摘要不同）",
                    [
                        Problem(
                            field="idempotency_key",
                            value=idempotency_key,
                            rule="幂等性",
                            message=f"已登记：{existing.declared_size} 字节，SHA-256 {existing.declared_sha256}",
                        )
                    ],
                )
            return existing, False
        upload = IngestUpload(
            uid=str(uuid.uuid4()),
            idempotency_key=idempotency_key,
            filename=_safe_name(filename),
            declared_size=size,
            declared_sha256=sha256,
            received=0,
            state="open",
            fonds_code=fonds_code or None,
            category=category or None,
            stage=stage,
            created_by=actor.username,
        )
        s.add(upload)
        s.flush()
        path = data_path(inst, upload)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return upload, True


def get_upload(inst: Instance, actor: Actor, uid: str) -> IngestUpload:
    """The upload ``uid`` of this account (others' uploads do not exist for it)."""
    actor.require(Perm.INGEST_TRANSFER_SUBMIT)
    with inst.db.read() as s:
        upload = s.scalar(
            select(IngestUpload).where(
                IngestUpload.uid == uid, IngestUpload.created_by == actor.username
            )
        )
    if upload is None:
        raise NotFound(f"上传 {uid} 不存在")
    return upload


def upload_offset(inst: Instance, actor: Actor, uid: str) -> int:
    return get_upload(inst, actor, uid).received


def parse_content_range(value: str | None, length: int | None) -> tuple[int, int, int]:
    """``bytes a-b/total`` → (start, end exclusive, total); ValidationFailed when malformed."""
    m = _RANGE.match((value or "").strip())
    if m is None:
        raise ValidationFailed(
            "缺少或无法解析 Content-Range",
            [Problem(field="Content-Range", value=value, message="应为 bytes 起始-结束/总长")],
        )
    start, last, total = (int(x) for x in m.groups())
    if last < start or last >= total:
        raise ValidationFailed(
            "Content-Range 不合理",
            [Problem(field="Content-Range", value=value, message="区间越界")],
        )
    if length is not None and length != last - start + 1:
        raise ValidationFailed(
            "Content-Length 与 Content-Range 不一致",
            [
                Problem(
                    field="Content-Length", value=str(length), message=f"应为 {last - start + 1}"
                )
            ],
        )
    return start, last + 1, total


def write_chunk(
    inst: Instance,
    actor: Actor,
    uid: str,
    *,
    start: int,
    end: int,
    total: int,
    chunks: Iterable[bytes],
    hashes: UploadHashes,
) -> int:
    """Write ``chunks`` (exactly end - start bytes) at ``start``; returns the new offset."""
    upload = get_upload(inst, actor, uid)
    if upload.state != "open":
        raise Conflict("上传已完成，不能再追加数据")
    if total != upload.declared_size:
        raise ValidationFailed(
            "Content-Range 的总长与登记的大小不符",
            [
                Problem(
                    field="Content-Range",
                    value=str(total),
                    message=f"登记大小为 {upload.declared_size}",
                )
            ],
        )
    if start != upload.received:
        raise Conflict(
            f"数据块起点 {start} 与服务器已收到的偏移 {upload.received} 不一致，请从该偏移续传",
            [Problem(field="Upload-Offset", value=str(upload.received), message="从此偏移续传")],
        )
    path = data_path(inst, upload)
    with path.open("r+b") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict("该上传正在被另一请求写入") from None
        running = hashes.take(uid, start) or _hash_prefix(path, start)
        sha, sm3 = _copy(running.sha256), _copy(running.sm3)
        f.seek(start)
        written = 0
        for chunk in chunks:
            if written + len(chunk) > end - start:
                raise ValidationFailed(
                    "数据块比 Content-Range 声明的长", [Problem(field="body", message="数据过长")]
                )
            f.write(chunk)
            sha.update(chunk)
            sm3.update(chunk)
            written += len(chunk)
        if written != end - start:
            f.truncate(start)
            raise ValidationFailed(
                "数据块不完整（连接中断？），请从原偏移重传",
                [Problem(field="body", value=str(written), message=f"应为 {end - start} 字节")],
            )
        f.truncate(end)
        f.flush()
        os.fsync(f.fileno())
    with inst.db.write() as s:
        moved = s.execute(
            update(IngestUpload)
            .where(IngestUpload.id == upload.id, IngestUpload.received == start)
            .values(received=end, updated_at=utcnow())
        ).rowcount  # type: ignore[attr-defined]
    if moved != 1:
        raise Conflict("上传偏移已被另一请求改变，请查询偏移后续传")
    hashes.put(uid, _Running(end, sha, sm3))
    return end


def _copy(h: Any) -> Any:
    try:
        return h.copy()
    except AttributeError:  # a hash without copy(): start over from disk next time
        return h


def complete_upload(
    inst: Instance,
    actor: Actor,
    uid: str,
    *,
    hashes: UploadHashes,
    wake: Callable[[], None] | None = None,
) -> tuple[IngestTransfer, bool]:
    """Verify the upload and submit it as a transfer; returns (transfer, created). Idempotent."""
    upload = get_upload(inst, actor, uid)
    if upload.state == "complete" and upload.transfer_id is not None:
        with inst.db.read() as s:
            done = s.get(IngestTransfer, upload.transfer_id)
        assert done is not None
        return done, False
    if upload.received != upload.declared_size:
        raise Conflict(
            f"上传尚未完成：已收到 {upload.received} / {upload.declared_size} 字节",
            [Problem(field="Upload-Offset", value=str(upload.received), message="请续传")],
        )
    path = data_path(inst, upload)
    running = hashes.take(uid, upload.received) or _hash_prefix(path, upload.received)
    sha256, sm3 = running.sha256.hexdigest(), running.sm3.hexdigest()
    if sha256 != upload.declared_sha256:
        with path.open("r+b") as f:
            f.truncate(0)
        with inst.db.write() as s:
            s.execute(
                update(IngestUpload)
                .where(IngestUpload.id == upload.id)
                .values(received=0, updated_at=utcnow())
            )
        raise ValidationFailed(
            "上传内容的 SHA-256 与登记的不符，已清空本次上传，请重新上传",
            [
                Problem(
                    field="sha256",
                    file=upload.filename,
                    rule="GD-1-14 信息包一致性",
                    value=sha256,
                    message=f"登记的 SHA-256 为 {upload.declared_sha256}",
                )
            ],
        )
    with inst.db.write() as s:
        row = s.get(IngestUpload, upload.id)
        assert row is not None
        if row.state == "complete" and row.transfer_id is not None:  # a concurrent completion
            done = s.get(IngestTransfer, row.transfer_id)
            assert done is not None
            return done, False
        transfer, created = submit(
            inst,
            s,
            actor,
            Submission(
                source=path,
                source_name=upload.filename,
                owned=True,
                fonds_code=upload.fonds_code,
                category=upload.category,
                stage="GD" if upload.stage == "GD" else "YJ",
                idempotency_key=upload.idempotency_key,
                package_size=upload.received,
                package_sha256=sha256,
                package_sm3=sm3,
                declared_sha256=upload.declared_sha256,
            ),
            wake=wake,
        )
        row.state = "complete"
        row.sm3 = sm3
        row.transfer_id = transfer.id
        row.updated_at = utcnow()
    return transfer, created


def upload_json(upload: IngestUpload, transfer_uid: str | None = None) -> dict[str, Any]:
    return {
        "upload_id": upload.uid,
        "idempotency_key": upload.idempotency_key,
        "filename": upload.filename,
        "size": upload.declared_size,
        "sha256": upload.declared_sha256,
        "offset": upload.received,
        "state": upload.state,
        "transfer": transfer_uid,
    }


def receive_file(
    inst: Instance,
    actor: Actor,
    stream: BinaryIO,
    *,
    filename: str,
    idempotency_key: str,
    max_bytes: int,
    fonds_code: str | None = None,
    category: str | None = None,
    stage: Literal["YJ", "GD"] = "YJ",
    mode: Literal["quick", "full"] = "full",
    wake: Callable[[], None] | None = None,
) -> tuple[IngestTransfer, bool]:
    """A whole package in one request (the web page's form): stored, hashed, submitted.

    The same idempotency key again (a form sent twice) returns the same transfer without
    reading the stream. Nothing is kept when the package is too large or the submission fails.
    """
    actor.require(Perm.INGEST_TRANSFER_SUBMIT)
    with inst.db.read() as s:
        existing = s.scalar(
            select(IngestUpload).where(
                IngestUpload.created_by == actor.username,
                IngestUpload.idempotency_key == idempotency_key,
            )
        )
        if existing is not None and existing.transfer_id is not None:
            done = s.get(IngestTransfer, existing.transfer_id)
            assert done is not None
            return done, False
    if existing is not None:
        raise Conflict("该幂等键已用于一次未完成的上传")
    name = _safe_name(filename)
    uid = str(uuid.uuid4())
    directory = upload_dir(inst.settings, uid)
    directory.mkdir(parents=True)
    path = directory / name
    running = _new_running()
    size = 0
    try:
        with path.open("xb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(
                        f"移交包超过网页上传上限 {max_bytes >> 20} MiB；大文件请用可续传接口或命令行",
                        [
                            Problem(
                                file=name,
                                rule="LANTAI_MAX_UPLOAD_MB",
                                message="文件过大，未做任何处理",
                            )
                        ],
                    )
                out.write(chunk)
                running.sha256.update(chunk)
                running.sm3.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise ValidationFailed("上传的文件为空", [Problem(file=name, message="0 字节")])
        sha256, sm3 = running.sha256.hexdigest(), running.sm3.hexdigest()
        with inst.db.write() as s:
            transfer, created = submit(
                inst,
                s,
                actor,
                Submission(
                    source=path,
                    source_name=name,
                    owned=True,
                    fonds_code=fonds_code,
                    category=category,
                    stage=stage,
                    mode=mode,
                    idempotency_key=idempotency_key,
                    package_size=size,
                    package_sha256=sha256,
                    package_sm3=sm3,
                ),
                wake=wake,
            )
            s.add(
                IngestUpload(
                    uid=uid,
                    idempotency_key=idempotency_key,
                    filename=name,
                    declared_size=size,
                    declared_sha256=sha256,
                    received=size,
                    state="complete",
                    fonds_code=fonds_code or None,
                    category=category or None,
                    stage=stage,
                    sm3=sm3,
                    transfer_id=transfer.id,
                    created_by=actor.username,
                )
            )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return transfer, created
