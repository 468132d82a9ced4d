"""The preservation package (AIP): a BagIt 1.0 bag with METS + PREMIS, stored as one package.

Public API::

    spec = AipSpec(aip_id=..., transfer=transfer, created=..., events=events, reports=[...], ...)
    result = build_aip(store, spec)          # writes, verifies and commits the package
    root = mets_document(spec, objects)      # the METS tree alone (pure; used by the builder)

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

import functools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lxml import etree

from lantai import __version__
from lantai.audit import PREMIS_EVENT_TYPES, EventType
from lantai.errors import IntegrityFailure, Problem
from lantai.formats.xsd import validate
from lantai.ingest.transfer import FileRole, Transfer, TransferFile
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

METS_NS = "http://www.loc.gov/METS/"
PREMIS_NS = "http://www.loc.gov/premis/v3"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
DAT46_NS = "urn:lantai:metadata:dat46"
NSMAP = {"mets": METS_NS, "premis": PREMIS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
SCHEMA_LOCATION = (
    f"{METS_NS} http://www.loc.gov/standards/mets/mets.xsd "
    f"{PREMIS_NS} http://www.loc.gov/standards/premis/v3/premis.xsd"
)
METS_PATH = "data/METS.xml"
PUT_THREADS = 4
SM3_AUTHORITY = "GB/T 32905-2016"
_ID_NAMESPACE = uuid.UUID("5c6f7a1e-3b0d-4c1b-9a57-6c616e746169")  # "lantai"


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


def payload_path(f: TransferFile) -> str:
    """Where a transfer file goes inside the bag."""
    if f.role is FileRole.CONTENT:
        return f"data/objects/{f.path}"
    return f"data/metadata/source/{f.path}"


@functools.cache
def _qname(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> Any:
    e = etree.SubElement(parent, _qname(ns, tag), attrs)
    if text is not None:
        e.text = text
    return e


def _m(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    return _el(parent, METS_NS, tag, text, **attrs)


def _p(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    return _el(parent, PREMIS_NS, tag, text, **attrs)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _file_uuid(aip_id: str, path: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{aip_id}/{path}"))


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    """Text safe for XML 1.0 (control characters a sender may have sent are escaped visibly)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if _NOT_XML.search(text) is None:
        return text
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _wrap(parent: etree._Element, mdtype: str, **attrs: str) -> Any:
    wrap = _m(parent, "mdWrap", MDTYPE=mdtype, **attrs)
    return _m(wrap, "xmlData")


def _premis_file(
    parent: etree._Element, spec: AipSpec, path: str, info: ObjectInfo, f: TransferFile | None
) -> None:
    obj = _p(parent, "object", **{f"{{{XSI_NS}}}type": "premis:file", "version": "3.0"})
    ident = _p(obj, "objectIdentifier")
    _p(ident, "objectIdentifierType", "UUID")
    _p(ident, "objectIdentifierValue", _file_uuid(spec.aip_id, path))
    chars = _p(obj, "objectCharacteristics")
    for algorithm, value, authority in (
        ("SHA-256", info.sha256, "cryptographicHashFunctions"),
        ("SM3", info.sm3, SM3_AUTHORITY),
    ):
        fixity = _p(chars, "fixity")
        _p(fixity, "messageDigestAlgorithm", algorithm, authority=authority)
        _p(fixity, "messageDigest", value)
    _p(chars, "size", str(info.size))
    fmt = _p(chars, "format")
    info_fmt = f.format if f is not None else None
    if info_fmt is not None:
        designation = _p(fmt, "formatDesignation")
        _p(designation, "formatName", _xml_text(info_fmt.name or "未知格式"))
        if info_fmt.version:
            _p(designation, "formatVersion", _xml_text(info_fmt.version))
        if info_fmt.puid:
            registry = _p(fmt, "formatRegistry")
            name = "PRONOM" if not info_fmt.puid.startswith("lantai/") else "Lantai"
            _p(registry, "formatRegistryName", name)
            _p(registry, "formatRegistryKey", info_fmt.puid)
        if info_fmt.basis or info_fmt.warning:
            note = "；".join(x for x in (info_fmt.basis, info_fmt.warning or "") if x)
            _p(fmt, "formatNote", _xml_text(note))
    else:
        designation = _p(fmt, "formatDesignation")
        _p(designation, "formatName", _mime_name(path))
    original = f.path if f is not None else path
    _p(obj, "originalName", _xml_text(original))


def _mime_name(path: str) -> str:
    return {
        ".json": "JSON",
        ".html": "HTML",
        ".pdf": "Portable Document Format",
        ".xml": "Extensible Markup Language",
    }.get(Path(path).suffix.lower(), "未识别")


def _premis_agents(parent: etree._Element, spec: AipSpec, actors: Iterable[str]) -> None:
    def agent(id_type: str, id_value: str, name: str, kind: str, version: str | None) -> None:
        md = _m(parent, "digiprovMD", ID=f"agent-{len(parent)}")
        a = _p(_wrap(md, "PREMIS:AGENT"), "agent", version="3.0")
        ident = _p(a, "agentIdentifier")
        _p(ident, "agentIdentifierType", id_type)
        _p(ident, "agentIdentifierValue", id_value)
        _p(a, "agentName", _xml_text(name))
        _p(a, "agentType", kind)
        if version:
            _p(a, "agentVersion", version)

    agent(
        "档案馆代码" if spec.archive_code else "档案馆名称",
        spec.archive_code or spec.archive_name,
        spec.archive_name,
        "organization",
        None,
    )
    agent("preservation system", f"Lantai-{__version__}", "兰台 Lantai", "software", __version__)
    for actor in sorted(set(actors)):
        agent("lantai-account", actor, actor, "person", None)


def _premis_events(parent: etree._Element, spec: AipSpec) -> list[str]:
    actors: list[str] = []
    for ev in spec.events:
        try:
            premis_type = PREMIS_EVENT_TYPES.get(EventType(ev.action))
        except ValueError:
            premis_type = None
        if premis_type is None:
            continue
        md = _m(parent, "digiprovMD", ID=f"event-{ev.seq}")
        e = _p(_wrap(md, "PREMIS:EVENT"), "event", version="3.0")
        ident = _p(e, "eventIdentifier")
        _p(ident, "eventIdentifierType", "lantai-audit-seq")
        _p(ident, "eventIdentifierValue", str(ev.seq))
        _p(e, "eventType", premis_type, authority="eventType")
        _p(e, "eventDateTime", ev.ts)
        detail = _p(e, "eventDetailInformation")
        _p(detail, "eventDetail", _xml_text(f"{ev.action} {ev.detail}"[:4000]))
        outcome = _p(e, "eventOutcomeInformation")
        _p(outcome, "eventOutcome", ev.outcome)
        link = _p(e, "linkingAgentIdentifier")
        _p(link, "linkingAgentIdentifierType", "lantai-account")
        _p(link, "linkingAgentIdentifierValue", ev.actor)
        _p(link, "linkingAgentRole", "implementer")
        software = _p(e, "linkingAgentIdentifier")
        _p(software, "linkingAgentIdentifierType", "preservation system")
        _p(software, "linkingAgentIdentifierValue", f"Lantai-{__version__}")
        _p(software, "linkingAgentRole", "executing program")
        obj = _p(e, "linkingObjectIdentifier")
        _p(obj, "linkingObjectIdentifierType", "UUID")
        _p(obj, "linkingObjectIdentifierValue", spec.aip_id)
        actors.append(ev.actor)
    return actors


def mets_document(spec: AipSpec, objects: Mapping[str, ObjectInfo]) -> etree._Element:
    """The METS tree for ``objects`` (bag path → stored object), every file linked to PREMIS."""
    t = spec.transfer
    by_path = {payload_path(f): f for f in t.files}
    root = etree.Element(
        f"{{{METS_NS}}}mets",
        nsmap=NSMAP,
        attrib={
            "OBJID": spec.aip_id,
            "LABEL": _xml_text(t.source_name),
            "TYPE": "AIP",
            f"{{{XSI_NS}}}schemaLocation": SCHEMA_LOCATION,
        },
    )
    hdr = _m(root, "metsHdr", CREATEDATE=_stamp(spec.created), RECORDSTATUS="production")
    org = _m(hdr, "agent", ROLE="CREATOR", TYPE="ORGANIZATION")
    _m(org, "name", _xml_text(spec.archive_name))
    sw = _m(hdr, "agent", ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
    _m(sw, "name", f"兰台 Lantai {__version__}")
    if spec.submitted_by:
        sender = _m(hdr, "agent", ROLE="OTHER", OTHERROLE="SUBMITTER", TYPE="INDIVIDUAL")
        _m(sender, "name", _xml_text(spec.submitted_by))
    _m(hdr, "altRecordID", spec.transfer_uid, TYPE="lantai:transfer")

    # Descriptive metadata: one dmdSec per record the sender declared (DA/T 46 elements).
    dmd_ids: dict[str, str] = {}
    for i, rec in enumerate(t.records, 1):
        dmd_id = f"dmd-{i}"
        dmd_ids[rec.key] = dmd_id
        dmd = _m(root, "dmdSec", ID=dmd_id)
        data = _wrap(dmd, "OTHER", OTHERMDTYPE="DA/T 46-2009", LABEL=_xml_text(rec.key))
        r = _el(data, DAT46_NS, "record", key=_xml_text(rec.key), level=rec.level.value)
        for key, value in rec.values.items():
            if value is None or value == "":
                continue
            name = spec.element_name(t.category, key)
            _el(r, DAT46_NS, "element", _xml_text(value), key=key, name=_xml_text(name))
        for step in rec.process:
            _el(
                r,
                DAT46_NS,
                "process",
                _xml_text(step.description),
                action=_xml_text(step.action),
                time=_xml_text(step.time),
                agent=_xml_text(step.agent),
            )

    # Administrative metadata: the package (events, agents), then one amdSec per file.
    amd = _m(root, "amdSec", ID="amd-package")
    tech = _m(amd, "techMD", ID="tech-package")
    rep = _p(
        _wrap(tech, "PREMIS:OBJECT"),
        "object",
        **{f"{{{XSI_NS}}}type": "premis:representation", "version": "3.0"},
    )
    ident = _p(rep, "objectIdentifier")
    _p(ident, "objectIdentifierType", "UUID")
    _p(ident, "objectIdentifierValue", spec.aip_id)
    _p(rep, "originalName", _xml_text(t.source_name))
    actors = _premis_events(amd, spec)
    _premis_agents(amd, spec, actors)

    file_ids: dict[str, str] = {}
    groups: dict[str, list[str]] = {"original": [], "metadata": [], "report": []}
    for n, (path, info) in enumerate(sorted(objects.items()), 1):
        if path == METS_PATH or not path.startswith("data/"):
            continue
        f = by_path.get(path)
        file_id = f"f{n}"
        file_ids[path] = file_id
        file_amd = _m(root, "amdSec", ID=f"amd-{file_id}")
        _premis_file(
            _wrap(_m(file_amd, "techMD", ID=f"tech-{file_id}"), "PREMIS:OBJECT"),
            spec,
            path,
            info,
            f,
        )
        if path.startswith("data/objects/"):
            groups["original"].append(path)
        elif path.startswith("data/metadata/report/"):
            groups["report"].append(path)
        else:
            groups["metadata"].append(path)

    file_sec = _m(root, "fileSec")
    for use, paths in groups.items():
        if not paths:
            continue
        grp = _m(file_sec, "fileGrp", USE=use)
        for path in paths:
            info = objects[path]
            f = by_path.get(path)
            attrs = {
                "ID": file_ids[path],
                "SIZE": str(info.size),
                "CHECKSUM": info.sha256,
                "CHECKSUMTYPE": "SHA-256",
                "ADMID": f"amd-{file_ids[path]}",
            }
            if f is not None and f.format is not None and f.format.mime:
                attrs["MIMETYPE"] = f.format.mime
            el = _m(grp, "file", **attrs)
            _m(
                el,
                "FLocat",
                LOCTYPE="OTHER",
                OTHERLOCTYPE="SYSTEM",
                **{f"{{{XLINK_NS}}}href": quote(path.removeprefix("data/"), safe="/")},
            )

    struct = _m(root, "structMap", TYPE="logical", LABEL="移交内容")
    top = _m(struct, "div", TYPE="transfer", LABEL=_xml_text(t.source_name), ADMID="amd-package")
    assigned: set[str] = set()
    for rec in t.records:
        title = rec.values.get("title")
        attrs = {"TYPE": rec.level.value, "DMDID": dmd_ids[rec.key]}
        attrs["LABEL"] = _xml_text(title if title else rec.key)
        div = _m(top, "div", **attrs)
        for p in rec.files:
            path = f"data/objects/{p}"
            if path in file_ids:
                _m(div, "fptr", FILEID=file_ids[path])
                assigned.add(path)
    loose = [p for p in groups["original"] if p not in assigned]
    if loose:
        div = _m(top, "div", TYPE="unassigned", LABEL="未关联条目的文件")
        for path in loose:
            _m(div, "fptr", FILEID=file_ids[path])
    others = groups["metadata"] + groups["report"]
    if others:
        div = _m(top, "div", TYPE="metadata", LABEL="元数据与检测报告")
        for path in others:
            _m(div, "fptr", FILEID=file_ids[path])
    if len(top) == 0:
        _m(top, "div", TYPE="empty", LABEL="无内容文件")
    return root


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
        root = mets_document(spec, objects)
        problems = validate(root, "mets", file=METS_PATH)
        if problems:
            raise AipInvalid("生成的 METS 未通过 METS/PREMIS 模式校验", problems)
        mets = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
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
