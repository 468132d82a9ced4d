"""The METS 1.12.1 + PREMIS 3.0 document of an AIP, written as text.

:func:`mets_bytes` writes the document an AIP carries as ``data/METS.xml``; :func:`mets_document`
parses it into a tree (what the builder validates and tests inspect). The layout:

- ``metsHdr``: the archive and the software as creators, the submitter, the transfer id;
- one ``dmdSec`` per record the sender declared: its DA/T 46 elements (with their Chinese
  names) and process steps;
- ``amdSec amd-package``: the package as a PREMIS representation, the transfer's preservation
  events from the audit log and their agents;
- one ``amdSec`` per file: a PREMIS file object with SHA-256 and SM3 fixity, size, format
  (PRONOM or Lantai registry key) and original name;
- ``fileSec``: the files by use (original, metadata, report) with SHA-256 in ``CHECKSUM``;
- ``structMap``: records → their files, then unassigned files, then metadata and reports.

The document is written as text rather than built element by element with lxml: the METS of
a transfer of 10,000 files has ~350,000 elements, which took ~2 s to build as a tree (plus
~0.2 s to serialise); as text it takes about a third of that, plus ~0.3 s for the one parse
the schema validation needs (docs/ingest.md has the A/B). Every text and attribute value
passes through :func:`_text` / :func:`_attr` (escaped, XML 1.0-safe); every element and
attribute name is a constant of this module.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lxml import etree

from lantai import __version__
from lantai.audit import PREMIS_EVENT_TYPES, EventType
from lantai.ingest.transfer import FileRole, FormatInfo, TransferFile

if TYPE_CHECKING:
    from lantai.ingest.aip import AipSpec
    from lantai.storage import ObjectInfo
    from lantai.store import Event

__all__ = [
    "DAT46_NS",
    "METS_NS",
    "METS_PATH",
    "PREMIS_NS",
    "SM3_AUTHORITY",
    "XLINK_NS",
    "mets_bytes",
    "mets_document",
    "parse_mets",
    "payload_path",
]

METS_NS = "http://www.loc.gov/METS/"
PREMIS_NS = "http://www.loc.gov/premis/v3"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
DAT46_NS = "urn:lantai:metadata:dat46"
SCHEMA_LOCATION = (
    f"{METS_NS} http://www.loc.gov/standards/mets/mets.xsd "
    f"{PREMIS_NS} http://www.loc.gov/standards/premis/v3/premis.xsd"
)
METS_PATH = "data/METS.xml"
SM3_AUTHORITY = "GB/T 32905-2016"
_ID_NAMESPACE = uuid.UUID("5c6f7a1e-3b0d-4c1b-9a57-6c616e746169")  # "lantai"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)
_NEEDS_ESCAPE = re.compile('[&<>"\t\n\r]')


def payload_path(f: TransferFile) -> str:
    """Where a transfer file goes inside the bag."""
    if f.role is FileRole.CONTENT:
        return f"data/objects/{f.path}"
    return f"data/metadata/source/{f.path}"


def _xml_text(value: Any) -> str:
    """Text safe for XML 1.0 (control characters a sender may have sent are escaped visibly)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if _NOT_XML.search(text) is None:
        return text
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _text(value: Any) -> str:
    """Element content: XML 1.0-safe and escaped."""
    text = _xml_text(value)
    return text.translate(_TEXT_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


def _attr(value: Any) -> str:
    """An attribute value (between double quotes): XML 1.0-safe and escaped."""
    text = _xml_text(value)
    return text.translate(_ATTR_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


def _attrs(attrs: Mapping[str, Any]) -> str:
    return "".join(f' {name}="{_attr(value)}"' for name, value in attrs.items())


class _Writer:
    """Indented XML text, two spaces per level (as lxml's pretty print)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.depth = 0

    def open(self, tag: str, attrs: Mapping[str, Any] | None = None) -> None:
        self.parts.append(f"{'  ' * self.depth}<{tag}{_attrs(attrs or {})}>\n")
        self.depth += 1

    def close(self, tag: str) -> None:
        self.depth -= 1
        self.parts.append(f"{'  ' * self.depth}</{tag}>\n")

    def leaf(self, tag: str, text: Any = None, attrs: Mapping[str, Any] | None = None) -> None:
        head = f"{'  ' * self.depth}<{tag}{_attrs(attrs or {})}"
        if text is None:
            self.parts.append(f"{head}/>\n")
        else:
            self.parts.append(f"{head}>{_text(text)}</{tag}>\n")

    def raw(self, text: str) -> None:
        self.parts.append(text)

    def open_wrap(self, mdtype: str, attrs: Mapping[str, Any] | None = None) -> None:
        self.open("mets:mdWrap", {"MDTYPE": mdtype, **(attrs or {})})
        self.open("mets:xmlData")

    def close_wrap(self) -> None:
        self.close("mets:xmlData")
        self.close("mets:mdWrap")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _file_uuid(aip_id: str, path: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{aip_id}/{path}"))


def _mime_name(path: str) -> str:
    return {
        ".json": "JSON",
        ".html": "HTML",
        ".pdf": "Portable Document Format",
        ".xml": "Extensible Markup Language",
    }.get(Path(path).suffix.lower(), "未识别")


def _format_xml(fmt: FormatInfo | None, path: str, pad: str) -> str:
    """The ``premis:format`` of a file object, indented by ``pad``."""
    if fmt is None:
        return (
            f"{pad}<premis:format>\n{pad}  <premis:formatDesignation>\n"
            f"{pad}    <premis:formatName>{_text(_mime_name(path))}</premis:formatName>\n"
            f"{pad}  </premis:formatDesignation>\n{pad}</premis:format>\n"
        )
    lines = [
        f"{pad}<premis:format>\n",
        f"{pad}  <premis:formatDesignation>\n",
        f"{pad}    <premis:formatName>{_text(fmt.name or '未知格式')}</premis:formatName>\n",
    ]
    if fmt.version:
        lines.append(
            f"{pad}    <premis:formatVersion>{_text(fmt.version)}</premis:formatVersion>\n"
        )
    lines.append(f"{pad}  </premis:formatDesignation>\n")
    if fmt.puid:
        registry = "PRONOM" if not fmt.puid.startswith("lantai/") else "Lantai"
        lines += [
            f"{pad}  <premis:formatRegistry>\n",
            f"{pad}    <premis:formatRegistryName>{registry}</premis:formatRegistryName>\n",
            f"{pad}    <premis:formatRegistryKey>{_text(fmt.puid)}</premis:formatRegistryKey>\n",
            f"{pad}  </premis:formatRegistry>\n",
        ]
    if fmt.basis or fmt.warning:
        note = "；".join(x for x in (fmt.basis, fmt.warning or "") if x)
        lines.append(f"{pad}  <premis:formatNote>{_text(note)}</premis:formatNote>\n")
    lines.append(f"{pad}</premis:format>\n")
    return "".join(lines)


def _file_amd(
    file_id: str, aip_id: str, path: str, info: ObjectInfo, f: TransferFile | None
) -> str:
    """The ``amdSec`` of one file: a PREMIS file object (one per file: written in one piece)."""
    p = " " * 12  # amdSec / techMD / mdWrap / xmlData / object: the object's children
    return (
        f'  <mets:amdSec ID="amd-{file_id}">\n'
        f'    <mets:techMD ID="tech-{file_id}">\n'
        f'      <mets:mdWrap MDTYPE="PREMIS:OBJECT">\n'
        f"        <mets:xmlData>\n"
        f'          <premis:object xsi:type="premis:file" version="3.0">\n'
        f"{p}<premis:objectIdentifier>\n"
        f"{p}  <premis:objectIdentifierType>UUID</premis:objectIdentifierType>\n"
        f"{p}  <premis:objectIdentifierValue>{_file_uuid(aip_id, path)}"
        f"</premis:objectIdentifierValue>\n"
        f"{p}</premis:objectIdentifier>\n"
        f"{p}<premis:objectCharacteristics>\n"
        f"{p}  <premis:fixity>\n"
        f'{p}    <premis:messageDigestAlgorithm authority="cryptographicHashFunctions">'
        f"SHA-256</premis:messageDigestAlgorithm>\n"
        f"{p}    <premis:messageDigest>{_text(info.sha256)}</premis:messageDigest>\n"
        f"{p}  </premis:fixity>\n"
        f"{p}  <premis:fixity>\n"
        f'{p}    <premis:messageDigestAlgorithm authority="{SM3_AUTHORITY}">'
        f"SM3</premis:messageDigestAlgorithm>\n"
        f"{p}    <premis:messageDigest>{_text(info.sm3)}</premis:messageDigest>\n"
        f"{p}  </premis:fixity>\n"
        f"{p}  <premis:size>{int(info.size)}</premis:size>\n"
        f"{_format_xml(f.format if f is not None else None, path, p + '  ')}"
        f"{p}</premis:objectCharacteristics>\n"
        f"{p}<premis:originalName>{_text(f.path if f is not None else path)}"
        f"</premis:originalName>\n"
        f"          </premis:object>\n"
        f"        </mets:xmlData>\n"
        f"      </mets:mdWrap>\n"
        f"    </mets:techMD>\n"
        f"  </mets:amdSec>\n"
    )


def _header(w: _Writer, spec: AipSpec) -> None:
    w.open("mets:metsHdr", {"CREATEDATE": _stamp(spec.created), "RECORDSTATUS": "production"})
    w.open("mets:agent", {"ROLE": "CREATOR", "TYPE": "ORGANIZATION"})
    w.leaf("mets:name", spec.archive_name)
    w.close("mets:agent")
    w.open("mets:agent", {"ROLE": "CREATOR", "TYPE": "OTHER", "OTHERTYPE": "SOFTWARE"})
    w.leaf("mets:name", f"兰台 Lantai {__version__}")
    w.close("mets:agent")
    if spec.submitted_by:
        w.open("mets:agent", {"ROLE": "OTHER", "OTHERROLE": "SUBMITTER", "TYPE": "INDIVIDUAL"})
        w.leaf("mets:name", spec.submitted_by)
        w.close("mets:agent")
    w.leaf("mets:altRecordID", spec.transfer_uid, {"TYPE": "lantai:transfer"})
    w.close("mets:metsHdr")


def _descriptive(w: _Writer, spec: AipSpec) -> dict[str, str]:
    """One dmdSec per record the sender declared (DA/T 46 elements); record key → dmdSec id."""
    t = spec.transfer
    dmd_ids: dict[str, str] = {}
    for i, rec in enumerate(t.records, 1):
        dmd_id = f"dmd-{i}"
        dmd_ids[rec.key] = dmd_id
        w.open("mets:dmdSec", {"ID": dmd_id})
        w.open_wrap("OTHER", {"OTHERMDTYPE": "DA/T 46-2009", "LABEL": rec.key})
        w.open("dat46:record", {"xmlns:dat46": DAT46_NS, "key": rec.key, "level": rec.level.value})
        for key, value in rec.values.items():
            if value is None or value == "":
                continue
            name = spec.element_name(t.category, key)
            w.leaf("dat46:element", value, {"key": key, "name": name})
        for step in rec.process:
            attrs = {"action": step.action, "time": step.time, "agent": step.agent}
            w.leaf("dat46:process", step.description, attrs)
        w.close("dat46:record")
        w.close_wrap()
        w.close("mets:dmdSec")
    return dmd_ids


def _events(w: _Writer, events: Sequence[Event], aip_id: str) -> list[str]:
    """The preservation events of the audit log as PREMIS events; their actors."""
    actors: list[str] = []
    for ev in events:
        try:
            premis_type = PREMIS_EVENT_TYPES.get(EventType(ev.action))
        except ValueError:
            premis_type = None
        if premis_type is None:
            continue
        w.open("mets:digiprovMD", {"ID": f"event-{ev.seq}"})
        w.open_wrap("PREMIS:EVENT")
        w.open("premis:event", {"version": "3.0"})
        w.open("premis:eventIdentifier")
        w.leaf("premis:eventIdentifierType", "lantai-audit-seq")
        w.leaf("premis:eventIdentifierValue", str(ev.seq))
        w.close("premis:eventIdentifier")
        w.leaf("premis:eventType", premis_type, {"authority": "eventType"})
        w.leaf("premis:eventDateTime", ev.ts)
        w.open("premis:eventDetailInformation")
        w.leaf("premis:eventDetail", _xml_text(f"{ev.action} {ev.detail}"[:4000]))
        w.close("premis:eventDetailInformation")
        w.open("premis:eventOutcomeInformation")
        w.leaf("premis:eventOutcome", ev.outcome)
        w.close("premis:eventOutcomeInformation")
        for kind, value, role in (
            ("lantai-account", ev.actor, "implementer"),
            ("preservation system", f"Lantai-{__version__}", "executing program"),
        ):
            w.open("premis:linkingAgentIdentifier")
            w.leaf("premis:linkingAgentIdentifierType", kind)
            w.leaf("premis:linkingAgentIdentifierValue", value)
            w.leaf("premis:linkingAgentRole", role)
            w.close("premis:linkingAgentIdentifier")
        w.open("premis:linkingObjectIdentifier")
        w.leaf("premis:linkingObjectIdentifierType", "UUID")
        w.leaf("premis:linkingObjectIdentifierValue", aip_id)
        w.close("premis:linkingObjectIdentifier")
        w.close("premis:event")
        w.close_wrap()
        w.close("mets:digiprovMD")
        actors.append(ev.actor)
    return actors


def _agents(w: _Writer, spec: AipSpec, actors: Iterable[str], first: int) -> None:
    """The archive, the software and every actor as PREMIS agents (ids ``agent-<first>`` …)."""
    agents: list[tuple[str, str, str, str, str | None]] = [
        (
            "档案馆代码" if spec.archive_code else "档案馆名称",
            spec.archive_code or spec.archive_name,
            spec.archive_name,
            "organization",
            None,
        ),
        ("preservation system", f"Lantai-{__version__}", "兰台 Lantai", "software", __version__),
    ]
    agents += [("lantai-account", a, a, "person", None) for a in sorted(set(actors))]
    for n, (id_type, id_value, name, kind, version) in enumerate(agents, first):
        w.open("mets:digiprovMD", {"ID": f"agent-{n}"})
        w.open_wrap("PREMIS:AGENT")
        w.open("premis:agent", {"version": "3.0"})
        w.open("premis:agentIdentifier")
        w.leaf("premis:agentIdentifierType", id_type)
        w.leaf("premis:agentIdentifierValue", id_value)
        w.close("premis:agentIdentifier")
        w.leaf("premis:agentName", name)
        w.leaf("premis:agentType", kind)
        if version:
            w.leaf("premis:agentVersion", version)
        w.close("premis:agent")
        w.close_wrap()
        w.close("mets:digiprovMD")


def _package_amd(w: _Writer, spec: AipSpec) -> None:
    """The package's amdSec: the representation, its events and their agents."""
    w.open("mets:amdSec", {"ID": "amd-package"})
    w.open("mets:techMD", {"ID": "tech-package"})
    w.open_wrap("PREMIS:OBJECT")
    w.open("premis:object", {"xsi:type": "premis:representation", "version": "3.0"})
    w.open("premis:objectIdentifier")
    w.leaf("premis:objectIdentifierType", "UUID")
    w.leaf("premis:objectIdentifierValue", spec.aip_id)
    w.close("premis:objectIdentifier")
    w.leaf("premis:originalName", spec.transfer.source_name)
    w.close("premis:object")
    w.close_wrap()
    w.close("mets:techMD")
    actors = _events(w, spec.events, spec.aip_id)  # one per event written
    _agents(w, spec, actors, first=1 + len(actors))  # ids number the amdSec's children
    w.close("mets:amdSec")


def _file_sec(
    w: _Writer,
    objects: Mapping[str, ObjectInfo],
    by_path: Mapping[str, TransferFile],
    file_ids: Mapping[str, str],
    groups: Mapping[str, list[str]],
) -> None:
    """The files by use, each with its SHA-256, size, MIME type and location in the bag."""
    w.open("mets:fileSec")
    for use, paths in groups.items():
        if not paths:
            continue
        w.open("mets:fileGrp", {"USE": use})
        for path in paths:
            info = objects[path]
            f = by_path.get(path)
            file_id = file_ids[path]
            mime = f.format.mime if f is not None and f.format is not None else None
            mime_attr = f' MIMETYPE="{_attr(mime)}"' if mime else ""
            href = _attr(quote(path.removeprefix("data/"), safe="/"))
            w.raw(
                f'      <mets:file ID="{file_id}" SIZE="{int(info.size)}" '
                f'CHECKSUM="{_attr(info.sha256)}" CHECKSUMTYPE="SHA-256" '
                f'ADMID="amd-{file_id}"{mime_attr}>\n'
                f'        <mets:FLocat LOCTYPE="OTHER" OTHERLOCTYPE="SYSTEM" '
                f'xlink:href="{href}"/>\n'
                f"      </mets:file>\n"
            )
        w.close("mets:fileGrp")
    w.close("mets:fileSec")


def _struct_map(
    w: _Writer,
    spec: AipSpec,
    dmd_ids: Mapping[str, str],
    file_ids: Mapping[str, str],
    groups: Mapping[str, list[str]],
) -> None:
    """Records → their files, then files of no record, then metadata and reports."""
    t = spec.transfer
    w.open("mets:structMap", {"TYPE": "logical", "LABEL": "移交内容"})
    w.open("mets:div", {"TYPE": "transfer", "LABEL": t.source_name, "ADMID": "amd-package"})
    divs = 0
    assigned: set[str] = set()
    for rec in t.records:
        title = rec.values.get("title")
        label = title if title else rec.key
        w.open("mets:div", {"TYPE": rec.level.value, "DMDID": dmd_ids[rec.key], "LABEL": label})
        for p in rec.files:
            path = f"data/objects/{p}"
            if path in file_ids:
                w.leaf("mets:fptr", attrs={"FILEID": file_ids[path]})
                assigned.add(path)
        w.close("mets:div")
        divs += 1
    loose = [p for p in groups["original"] if p not in assigned]
    others = groups["metadata"] + groups["report"]
    for paths, kind, label in (
        (loose, "unassigned", "未关联条目的文件"),
        (others, "metadata", "元数据与检测报告"),
    ):
        if paths:
            w.open("mets:div", {"TYPE": kind, "LABEL": label})
            for path in paths:
                w.leaf("mets:fptr", attrs={"FILEID": file_ids[path]})
            w.close("mets:div")
            divs += 1
    if divs == 0:
        w.leaf("mets:div", attrs={"TYPE": "empty", "LABEL": "无内容文件"})
    w.close("mets:div")
    w.close("mets:structMap")


def mets_bytes(spec: AipSpec, objects: Mapping[str, ObjectInfo]) -> bytes:
    """The METS document (UTF-8) for ``objects`` (bag path → stored object), every file linked
    to its PREMIS object."""
    t = spec.transfer
    by_path = {payload_path(f): f for f in t.files}
    w = _Writer()
    w.raw("<?xml version='1.0' encoding='UTF-8'?>\n")
    w.open(
        "mets:mets",
        {
            "xmlns:mets": METS_NS,
            "xmlns:premis": PREMIS_NS,
            "xmlns:xlink": XLINK_NS,
            "xmlns:xsi": XSI_NS,
            "OBJID": spec.aip_id,
            "LABEL": t.source_name,
            "TYPE": "AIP",
            "xsi:schemaLocation": SCHEMA_LOCATION,
        },
    )
    _header(w, spec)
    dmd_ids = _descriptive(w, spec)
    _package_amd(w, spec)

    file_ids: dict[str, str] = {}
    groups: dict[str, list[str]] = {"original": [], "metadata": [], "report": []}
    for n, (path, info) in enumerate(sorted(objects.items()), 1):
        if path == METS_PATH or not path.startswith("data/"):
            continue
        file_id = f"f{n}"
        file_ids[path] = file_id
        w.raw(_file_amd(file_id, spec.aip_id, path, info, by_path.get(path)))
        if path.startswith("data/objects/"):
            groups["original"].append(path)
        elif path.startswith("data/metadata/report/"):
            groups["report"].append(path)
        else:
            groups["metadata"].append(path)

    _file_sec(w, objects, by_path, file_ids, groups)
    _struct_map(w, spec, dmd_ids, file_ids, groups)
    w.close("mets:mets")
    return "".join(w.parts).encode("utf-8")


def mets_document(spec: AipSpec, objects: Mapping[str, ObjectInfo]) -> etree._Element:
    """The METS of :func:`mets_bytes` as a tree."""
    return parse_mets(mets_bytes(spec, objects))


def parse_mets(data: bytes) -> etree._Element:
    """Parse METS text this module wrote (large documents allowed, no entities, no network)."""
    return etree.fromstring(data, _PARSER)
