"""The preservation package (AIP): a BagIt 1.0 bag with METS + PREMIS, stored as one package.

Public API::

    spec = AipSpec(aip_id=..., transfer=transfer, created=..., events=events, reports=[...], ...)
    result = build_aip(store, spec)          # writes, verifies and commits the package
    root = mets_document(spec, objects)      # the METS tree alone (pure; lantai.ingest.mets)

Layout of a package (every path below is an object key ``<aip_id>/<path>``)::

    bagit.txt, bag-info.txt
    manifest-sha256.txt, manifest-sm3.txt          payload digests (data/…)
    tagmanifest-sha256.txt, tagmanifest-sm3.txt    digests of the four files above
    data/objects/<sender path>                     the original content files, byte for byte
    data/metadata/source/<sender path>             the sender's metadata and packaging files
    data/metadata/report/四性检测报告.{json,html,pdf}
    data/metadata/transfer.json                    the Transfer as read (records, register …)
    data/METS.xml                                  METS 1.12.1 with PREMIS 3.0

**Digests.** Every byte was hashed once, when it was received; the builder reuses those
digests. Files staged by this ingest (unpacked, decoded) are linked into the store, not copied
(only sizes are re-checked), so building an AIP reads no payload byte again. Files of a sender's
folder read in place are copied in the kernel; when their size or modification time changed
since they were hashed, the copy is hashed and must match (a changed source is refused). SHA-256 goes into METS ``file/@CHECKSUM``. METS
1.12.1 has no value for SM3 in its closed ``CHECKSUMTYPE`` list (and no OTHERCHECKSUMTYPE), so
SM3 (GB/T 32905-2016) is recorded in PREMIS ``fixity`` with ``messageDigestAlgorithm`` "SM3"
(authority "GB/T 32905-2016"), next to a SHA-256 fixity. BagIt has no registered name for SM3
either (RFC 8493 §2.4 names only hash algorithms from IANA's registry); ``manifest-sm3.txt`` is
written anyway — validators that know SM3 check it, others ignore it with a warning — and
``manifest-sha256.txt`` is the one every BagIt tool verifies.

**Events.** PREMIS events are the audit-log events of the transfer up to the moment the package
is built (received, unpacked, digests, formats, checked), each with its agent and outcome; the
events that follow (package stored, catalogue written) are in the audit log.

The METS is validated against the packaged METS + PREMIS schemas before anything is committed;
a METS that does not validate is a bug and raises :class:`AipInvalid`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lantai import __version__
from lantai.errors import IntegrityFailure, Problem
from lantai.formats.xsd import validate
from lantai.ingest.mets import METS_PATH, mets_bytes, mets_document, parse_mets, payload_path
from lantai.ingest.transfer import Transfer, TransferFile
from lantai.storage import ObjectInfo, ObjectStore, PackageInfo, PackageWriter
from lantai.store import Event

__all__ = [
    "METS_PATH",
    "AipInvalid",
    "AipResult",
    "AipSpec",
    "build_aip",
    "mets_document",
    "payload_path",
]

PUT_THREADS = 4


class AipInvalid(IntegrityFailure):
    """The generated METS does not validate (a bug: nothing was stored)."""

    code = "aip_invalid"


@dataclass(frozen=True, kw_only=True)
class AipSpec:
    """Everything the package is made of. ``created`` is fixed so a rebuild is identical."""

    aip_id: str
    transfer: Transfer
    transfer_uid: str
    created: datetime
    archive_name: str
    archive_code: str = ""
    submitted_by: str = ""
    decision: str = ""
    events: Sequence[Event] = ()
    reports: Sequence[Path] = ()  # the 四性检测报告 files
    snapshot: Path | None = None  # transfer.json
    element_name: Callable[[str | None, str], str] = field(default=lambda _cat, key: key)


@dataclass(frozen=True, kw_only=True)
class AipResult:
    aip_id: str
    package: PackageInfo
    files: int  # content files
    bytes: int  # content bytes
    mets_sha256: str


def _bag_path(path: str) -> str:
    """A path as BagIt 1.0 writes it in manifests (%, CR and LF percent-encoded)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _manifest(objects: Mapping[str, ObjectInfo], algorithm: str) -> bytes:
    lines = [
        f"{getattr(info, algorithm)}  {_bag_path(path)}\n" for path, info in sorted(objects.items())
    ]
    return "".join(lines).encode("utf-8")


def _bag_info(spec: AipSpec, payload: Mapping[str, ObjectInfo]) -> bytes:
    reg = spec.transfer.register
    fields = [
        ("Source-Organization", reg.unit if reg is not None and reg.unit else spec.archive_name),
        ("Bagging-Date", spec.created.astimezone(UTC).date().isoformat()),
        ("Bag-Software-Agent", f"兰台 Lantai {__version__}"),
        ("External-Identifier", spec.aip_id),
        ("Internal-Sender-Identifier", spec.transfer_uid),
        ("Internal-Sender-Description", spec.transfer.source_name),
        ("Payload-Oxum", f"{sum(o.size for o in payload.values())}.{len(payload)}"),
        ("Lantai-Decision", spec.decision),
    ]
    lines = []
    for name, value in fields:
        clean = " ".join(str(value).split())
        if clean:
            lines.append(f"{name}: {clean}\n")
    return "".join(lines).encode("utf-8")


def _put_one(writer: PackageWriter, spec: AipSpec, f: TransferFile) -> tuple[str, ObjectInfo]:
    if f.sha256 is None or f.sm3 is None:
        raise AipInvalid(
            f"文件「{f.path}」没有数字摘要，不能写入长期保存信息包",
            [Problem(file=f.path, rule="一次读取计算 SHA-256 与 SM3", message="缺少摘要")],
        )
    path = payload_path(f)
    if f.local.is_relative_to(spec.transfer.staging):
        # staged by this ingest and hashed as it was written: link, no copy
        return path, writer.put_file(
            path, f.local, size=f.size, sha256=f.sha256, sm3=f.sm3, verified=True, link=True
        )
    # A sender's folder read in place: copy it (in the kernel). Its digests stand for these
    # bytes only while the file is unchanged since it was hashed; otherwise hash the copy.
    unchanged = _unchanged(f)
    info = writer.put_file(
        path, f.local, size=f.size, sha256=f.sha256, sm3=f.sm3, verified=unchanged
    )
    if unchanged and not _unchanged(f):
        raise AipInvalid(
            f"文件「{f.path}」在接收过程中被改动，不能写入长期保存信息包",
            [Problem(file=f.path, rule="信息包一致性", message="源文件修改时间或大小已变化")],
        )
    return path, info


def _put_payload(writer: PackageWriter, spec: AipSpec) -> dict[str, ObjectInfo]:
    # Links, copies and stats are system calls: a few threads overlap them.
    with ThreadPoolExecutor(PUT_THREADS, thread_name_prefix="lantai-aip") as pool:
        objects = dict(pool.map(lambda f: _put_one(writer, spec, f), spec.transfer.files))
    for report in spec.reports:
        path = f"data/metadata/report/{report.name}"
        objects[path] = writer.put_bytes(path, report.read_bytes())
    if spec.snapshot is not None:
        path = "data/metadata/transfer.json"
        objects[path] = writer.put_bytes(path, spec.snapshot.read_bytes())
    return objects


def _unchanged(f: TransferFile) -> bool:
    """The file still has the size and modification time it had when it was read."""
    try:
        st = f.local.stat()
    except OSError:
        return False
    return (
        f.modified is not None
        and st.st_size == f.size
        and datetime.fromtimestamp(st.st_mtime, tz=UTC) == f.modified
    )


def build_aip(store: ObjectStore, spec: AipSpec) -> AipResult:
    """Write the package, validate its METS, and commit it (nothing visible on any error).

    Idempotent: when the package already exists (a resumed ingest) it is returned unchanged.
    """
    existing = store.package(spec.aip_id)
    if existing is not None:
        return _result(store, spec, existing)
    with store.begin(spec.aip_id) as writer:
        objects = _put_payload(writer, spec)
        mets = mets_bytes(spec, objects)
        problems = validate(parse_mets(mets), "mets", file=METS_PATH)
        if problems:
            raise AipInvalid("生成的 METS 未通过 METS/PREMIS 模式校验", problems)
        objects[METS_PATH] = writer.put_bytes(METS_PATH, mets)
        tags: dict[str, ObjectInfo] = {
            "bagit.txt": writer.put_bytes(
                "bagit.txt", b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
            ),
            "bag-info.txt": writer.put_bytes("bag-info.txt", _bag_info(spec, objects)),
            "manifest-sha256.txt": writer.put_bytes(
                "manifest-sha256.txt", _manifest(objects, "sha256")
            ),
            "manifest-sm3.txt": writer.put_bytes("manifest-sm3.txt", _manifest(objects, "sm3")),
        }
        writer.put_bytes("tagmanifest-sha256.txt", _manifest(tags, "sha256"))
        writer.put_bytes("tagmanifest-sm3.txt", _manifest(tags, "sm3"))
        package = writer.commit()
    return _result(store, spec, package)


def _result(store: ObjectStore, spec: AipSpec, package: PackageInfo) -> AipResult:
    content = spec.transfer.content_files()
    return AipResult(
        aip_id=spec.aip_id,
        package=package,
        files=len(content),
        bytes=sum(f.size for f in content),
        mets_sha256=store.stat(f"{spec.aip_id}/{METS_PATH}").sha256,
    )
