"""The object store interface preserved packages are written through.

Objects are immutable and written in **packages**: ``store.begin(package_id)`` gives a
:class:`PackageWriter`; objects are put into it (each checked for size and digests as it is
written); :meth:`PackageWriter.commit` makes the whole package visible at once, or nothing of it
if the process dies first. A key is ``"<package_id>/<path inside the package>"``; the package
index records each object's size, SHA-256 and SM3, so a key always names the same bytes
(content addressing by package id + digest) and putting the same package again is a no-op.

There is deliberately **no delete**. Removing preserved objects is the disposal workflow's job:
:meth:`ObjectStore.destroy_objects` accepts only a :class:`DestructionOrder` (the disposal module
issues it after re-checking the approved final decision) and records every removed object in the
package index under ``"destroyed"`` — the same entries in every location, so the package digest
stays equal across replicas after a destruction. The only other removal here is
:meth:`ObjectStore.discard_uncommitted`, for packages written by an ingest that never committed
its catalogue transaction; it re-checks with the caller that nothing references the package.

The one privileged write on a committed package is :meth:`ObjectStore.repair_object`: it
replaces one object whose stored bytes went bad with bytes that match the package index (size,
SHA-256 and SM3), and refuses anything else. Fixity audits use it to repair from a good replica.

Backends: :class:`lantai.storage.local.LocalObjectStore` (the embedded default),
:class:`lantai.storage.s3.S3ObjectStore` (S3-compatible object storage) and
:class:`lantai.storage.tarvolume.TarVolumeStore` (self-describing tar volumes for another medium).
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from lantai.errors import Conflict, InputError, IntegrityFailure, LantaiError, NotFound

__all__ = [
    "DestructionOrder",
    "DestructionResult",
    "InvalidKey",
    "LocationUnreachable",
    "ObjectInfo",
    "ObjectMismatch",
    "ObjectNotFound",
    "ObjectStore",
    "PackageExists",
    "PackageInfo",
    "PackageWriter",
    "StorageFull",
    "check_package_id",
    "check_path",
    "split_key",
]

_PACKAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class InvalidKey(InputError):
    """A package id or object path that the store does not accept."""

    code = "invalid_key"


class ObjectNotFound(NotFound):
    """No committed object under that key."""

    code = "object_not_found"


class ObjectMismatch(IntegrityFailure):
    """The bytes written do not have the size or digest the caller declared; nothing was kept."""

    code = "object_mismatch"


class LocationUnreachable(LantaiError):
    """The storage location cannot be reached (not mounted, refused, timed out)."""

    status = 503
    code = "location_unreachable"


class StorageFull(LantaiError):
    """The location ran out of space (or quota) while a package was written; nothing is kept."""

    status = 507
    code = "storage_full"


class PackageExists(Conflict):
    """A committed package with that id holds different objects (objects are immutable)."""

    code = "package_exists"


@dataclass(frozen=True, kw_only=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str
    sm3: str


@dataclass(frozen=True, kw_only=True)
class PackageInfo:
    package_id: str
    objects: int
    bytes: int
    created: str  # ISO 8601 UTC, when the package was committed
    digest: str  # SHA-256 of the package index: one value that names the whole package


@dataclass(frozen=True, kw_only=True)
class DestructionOrder:
    """An approved 销毁 of one disposal item, the only thing :meth:`ObjectStore.destroy_objects`
    accepts. Issued by :func:`lantai.disposal.destroy.authorise` (after re-checking the final
    round's decision) or, to complete a destruction on a location that missed it, rebuilt by
    :mod:`lantai.storage.destruction` from the ``destroyed_objects`` rows that execution wrote.
    ``destroyed_at`` is fixed once per execution so every location writes identical tombstones.
    """

    batch_uid: str
    item_id: int
    record_id: int
    approved_by: str
    approved_at: str
    destroyed_at: str

    def tombstone(self, entry: list[object] | tuple[object, ...]) -> dict[str, object]:
        """The index entry under "destroyed" for an object whose index entry was ``entry``."""
        return {
            "size": entry[0],
            "sha256": entry[1],
            "sm3": entry[2],
            "batch": self.batch_uid,
            "item": self.item_id,
            "approved_by": self.approved_by,
            "at": self.destroyed_at,
        }


@dataclass(frozen=True, kw_only=True)
class DestructionResult:
    package: PackageInfo  # the package after the destruction (its new digest)
    destroyed: tuple[str, ...]  # paths newly listed as destroyed by this call
    removed: int  # stored objects (files, S3 keys, tar members) removed by this call
    bytes: int  # bytes of the newly destroyed objects
    superseded: tuple[str, ...] = ()  # tar volumes replaced (write-once media: destroy them too)


def check_order(order: object) -> DestructionOrder:
    from lantai.errors import PermissionDenied

    if not isinstance(order, DestructionOrder) or not (
        order.batch_uid and order.item_id and order.approved_by and order.destroyed_at
    ):
        raise PermissionDenied("销毁被拒绝：须持有经最后一轮审批的销毁授权（DestructionOrder）")
    return order


def check_package_id(package_id: str) -> str:
    if not _PACKAGE_ID.match(package_id):
        raise InvalidKey(
            f"包标识「{package_id}」不合规：须为 1–64 位字母、数字、点、下划线或连字符"
        )
    return package_id


def check_path(path: str) -> str:
    """A relative POSIX path inside a package: NFC, no empty, '.' or '..' segments, no NUL."""
    if not path or path.startswith("/") or "\x00" in path or "\\" in path:
        raise InvalidKey(f"对象路径「{path}」不合规：须为相对路径，不含反斜杠或空字符")
    if unicodedata.normalize("NFC", path) != path:
        raise InvalidKey(f"对象路径「{path}」不合规：须为 Unicode NFC 形式")
    for part in path.split("/"):
        if part in ("", ".", "..") or len(part.encode("utf-8")) > 255:
            raise InvalidKey(f"对象路径「{path}」不合规：含空段、「.」「..」或过长的段")
    return path


def split_key(key: str) -> tuple[str, str]:
    package_id, sep, path = key.partition("/")
    if not sep:
        raise InvalidKey(f"对象键「{key}」不合规：应为「包标识/路径」")
    return check_package_id(package_id), check_path(path)


class PackageWriter(ABC):
    """Objects of one package being written; invisible until :meth:`commit`.

    ``put_file``, ``put_stream`` and ``put_bytes`` may be called from several threads at once
    (the AIP builder stores the payload on a few threads), each for a different path."""

    package_id: str
    # The index's "created" value; None means the commit time. Replication sets the source's
    # value so the replica's index (and so its package digest) is byte-identical.
    created: str | None = None
    # The source's "destroyed" entries (replication of a package after a 销毁): written into the
    # index as they are, so the replica's digest equals the source's; never objects.
    destroyed: dict[str, Any] | None = None

    @abstractmethod
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
        """Store the local file ``source`` as ``path``.

        With ``verified=False`` the bytes are hashed as they are copied and must match.
        ``verified=True`` is for a file whose digests this process computed from exactly these
        bytes (ingest: every byte is hashed once, at receipt); only the size is re-checked.
        ``link=True`` additionally lets the backend link the file instead of copying it — only
        for a file the caller owns and will never modify (ingest staging), never for a sender's
        folder read in place.
        """

    @abstractmethod
    def put_stream(
        self, path: str, stream: BinaryIO, *, size: int, sha256: str, sm3: str | None = None
    ) -> ObjectInfo:
        """Store what ``stream`` yields as ``path``; size and digests are checked as it is written."""

    @abstractmethod
    def put_bytes(self, path: str, data: bytes) -> ObjectInfo:
        """Store ``data`` (small objects the caller produced: manifests, METS, reports)."""

    @abstractmethod
    def commit(self) -> PackageInfo:
        """Make every object durable, then the package visible, atomically. Idempotent."""

    @abstractmethod
    def abort(self) -> None:
        """Throw away everything written so far."""

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.abort()


class ObjectStore(ABC):
    """Where preserved packages live. Keys are ``"<package_id>/<path>"``."""

    @abstractmethod
    def begin(self, package_id: str) -> PackageWriter: ...

    def put(
        self, key: str, stream: BinaryIO, *, size: int, sha256: str, sm3: str | None = None
    ) -> ObjectInfo:
        """Store one object as a package of its own (shorthand for begin/put/commit)."""
        package_id, path = split_key(key)
        with self.begin(package_id) as writer:
            info = writer.put_stream(path, stream, size=size, sha256=sha256, sm3=sm3)
            writer.commit()
        return info

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary stream of a committed object (the caller closes it)."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size and digests of a committed object; raises ObjectNotFound."""

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Committed objects whose key starts with ``prefix``, in key order."""

    @abstractmethod
    def package(self, package_id: str) -> PackageInfo | None:
        """The committed package, or None."""

    @abstractmethod
    def packages(self) -> Iterator[str]:
        """Ids of every committed package."""

    @abstractmethod
    def discard_uncommitted(
        self, package_id: str, *, reason: str, referenced: Callable[[str], bool]
    ) -> bool:
        """Remove a package no committed catalogue transaction refers to (reconcile only).

        ``referenced(package_id)`` is asked again immediately before removal; when it answers
        True nothing is removed and False is returned. Also removes in-progress writes of the
        package left by a dead process.
        """

    @abstractmethod
    def repair_object(
        self, key: str, stream: BinaryIO, *, size: int, sha256: str, sm3: str
    ) -> ObjectInfo:
        """Replace the stored bytes of one committed object with verified good bytes.

        The only write to a committed package. Refuses (ObjectMismatch, nothing changed) unless
        ``size``/``sha256``/``sm3`` equal the package index entry of ``key`` *and* the bytes read
        from ``stream`` have exactly those digests. Raises ObjectNotFound for a key the index does
        not list: a repair never adds, renames or removes objects.
        """

    @abstractmethod
    def destroy_objects(
        self, package_id: str, paths: Sequence[str], *, authorisation: DestructionOrder
    ) -> DestructionResult:
        """Remove the objects ``paths`` of a committed package under an approved 销毁.

        Refuses (PermissionDenied) anything but a :class:`DestructionOrder`. The index is
        rewritten first — the objects move from ``"objects"`` to ``"destroyed"`` with
        :meth:`DestructionOrder.tombstone` — then the stored bytes are removed. Idempotent: a
        path already listed as destroyed is not listed again, but leftover bytes of it (a run that
        died after the index was rewritten) are removed. A path in neither list is a Conflict.
        """

    @abstractmethod
    def tombstones(self, package_id: str) -> dict[str, Any]:
        """The package index's ``"destroyed"`` entries (path → tombstone); empty if none."""

    # How many objects an audit should read at once at least: 1 for local media (the hashing
    # threads are the limit), more for a network store where each read waits on a round trip.
    read_parallelism: int = 1

    def space(self) -> tuple[int, int] | None:
        """(free bytes, total bytes) of the medium, or None when the backend cannot tell."""
        return None

    def probe(self) -> None:
        """Raise LocationUnreachable unless the location answers (a cheap read)."""
        next(iter(self.packages()), None)

    @abstractmethod
    def incoming(self) -> Iterator[str]:
        """Package ids with writes in progress or abandoned (not committed)."""

    @abstractmethod
    def discard_abandoned_writes(self, package_id: str) -> int:
        """Remove in-progress writes of a package nothing will finish (reconcile only).

        Never touches committed objects; returns how many partial writes were removed. Call it
        only when no writer of the package can still be running.
        """
