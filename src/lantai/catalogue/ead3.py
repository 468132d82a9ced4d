"""EAD3 export of a fonds (or any unit) and everything under it that the actor may see.

The whole visible subtree comes from one closure-table query
(:meth:`~lantai.catalogue.Catalogue.subtree_outline`); the depth-first order is built in memory and
the records are then loaded in id batches of :data:`BATCH` and written as they arrive with lxml's
incremental writer, so memory stays flat however large the fonds. A unit whose parent the actor
cannot see is left out with its parent (it has no place in the tree). The output is valid against
the EAD3 1.1.1 XSD shipped in ``lantai/formats/schemas``.

Mapping (DA/T 18-2022 著录项 → EAD3)
===================================

===========================  ===================================================================
Lantai                       EAD3
===========================  ===================================================================
root 档号 (else uid)          ``control/recordid``; the uid also as ``otherrecordid[@localtype=uid]``
root 题名                     ``control/filedesc/titlestmt/titleproper``
—                            ``maintenancestatus[@value=derived]`` (generated from the database)
settings.archive_code/name   ``maintenanceagency/agencycode``, ``agencyname`` (countrycode CN)
—                            ``languagedeclaration``: language ``zh`` + script ``Hans`` (zh-Hans)
—                            ``conventiondeclaration``: DA/T 18-2022 档案著录规则
the export itself            ``maintenancehistory/maintenanceevent`` (derived, time, agent)
著录层级                      ``archdesc/@level``, ``c/@level``: 全宗 fonds, 类别 series (subseries
                             under another 类别), 案卷 file, 件 item
uid                          ``@id`` = ``lantai-<uid>`` on archdesc and every c
档号                          ``did/unitid`` (no localtype)
文件编号 (文号)                ``did/unitid[@localtype=文号]``
原参考代码                     ``did/unitid[@localtype=原参考代码]``
题名                          ``did/unittitle``
日期                          ``did/unitdatestructured``: ``datesingle`` or ``daterange``
                             (``fromdate``/``todate``) with ISO 8601 ``@standarddate``;
                             a 考证日期 "[…]" gets ``@certainty=inferred``; a stored value that
                             is not a date is written as plain ``did/unitdate``
责任者                        ``did/origination/corpname/part``
载体形态                      ``did/physdesc``
页数                          ``did/physdescstructured[@physdescstructuredtype=materialtype]``
                             with ``quantity`` and ``unittype`` 页
语种                          ``did/langmaterial/language`` (``@langcode`` ISO 639-1 where known)
存储位置                      ``did/physloc``
密级 / 开放标识 / 公开属性      ``accessrestrict[@localtype=密级|开放标识|公开属性]/p``
保管期限 / 销毁情况             ``appraisal[@localtype=保管期限|销毁情况]/p``
档案保管沿革                   ``custodhist/p``
组织机构沿革                   ``bioghist/p``
范围和提要                     ``scopecontent/p``
原件存放位置                   ``originalsloc/p``
复制件存放位置                 ``altformavail/p``
附注                          ``odd[@localtype=附注]/p``
any other element with value ``odd[@localtype=<element name>]/p`` (nothing is dropped)
年度, 档案馆代码                not repeated (part of 日期 and of ``control``)
===========================  ===================================================================

Multi-line text becomes one ``<p>`` per line. Characters XML cannot carry (control characters
in legacy data) are written as U+FFFD rather than failing the export.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from lantai.archival import Level, MetadataScheme
from lantai.audit import EventType
from lantai.errors import InputError, Problem
from lantai.security import Actor, Perm
from lantai.store import Record

if TYPE_CHECKING:
    from lxml.etree._serializer import _IncrementalFileWriter

    from lantai.instance import Instance

__all__ = ["BATCH", "EAD3_NS", "Ead3Export", "export_ead3"]

EAD3_NS: Final = "http://ead3.archivists.org/schema/"
BATCH: Final = 1000

_EAD_LEVEL: Final = {
    Level.FONDS.value: "fonds",
    Level.SERIES.value: "series",
    Level.FILE.value: "file",
    Level.ITEM.value: "item",
}
# 语种 code → ISO 639-1 (control/@langencoding is iso639-1).
_LANGCODE: Final = {"汉语": "zh", "英语": "en", "藏语": "bo", "维吾尔语": "ug", "蒙古语": "mn"}
# Elements written by dedicated EAD3 elements (or deliberately not repeated).
_MAPPED: Final = frozenset(
    {
        "archival_code",
        "doc_number",
        "original_reference",
        "title",
        "date",
        "responsible",
        "carrier",
        "pages",
        "language",
        "location",
        "security_level",
        "open_status",
        "disclosure",
        "retention",
        "destruction",
        "custody_history",
        "org_history",
        "abstract",
        "original_location",
        "copy_location",
        "notes",
        "year",
        "archive_code",
    }
)
_ILLEGAL_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DATE_PART: Final = re.compile(r"^(\d{4})(\d{2})?(\d{2})?$")


@dataclass(frozen=True)
class Ead3Export:
    """What one export wrote."""

    records: int  # units described: the root (archdesc) and every component
    components: int  # <c> elements
    path: Path | None
    sha256: str
    size: int


def export_ead3(
    inst: Instance,
    actor: Actor,
    root_id: int,
    out: BinaryIO | Path,
    *,
    now: datetime | None = None,
) -> Ead3Export:
    """Write the EAD3 finding aid of ``root_id``'s visible subtree to ``out`` and log the export.

    A Path is written to a temporary file beside it and renamed into place once complete, so a
    failed export leaves no partial file. An export event records the component count and the
    SHA-256 of what was written.
    """
    actor.require(Perm.CATALOGUE_EXPORT)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if isinstance(out, Path):
        try:
            fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
        except OSError as exc:
            raise InputError(
                f"无法在「{out.parent}」写入导出文件：{exc.strerror or exc}",
                [Problem(field="输出文件", value=str(out), message="目录不存在或不可写")],
            ) from exc
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as fh:
                sink = _HashingSink(fh)
                root, records = _write(inst, actor, root_id, sink, stamp)
            with inst.db.write() as s:
                _log(inst, s, actor, root, records, sink, out)
                os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return Ead3Export(records, records - 1, out, sink.hexdigest(), sink.size)
    sink = _HashingSink(out)
    root, records = _write(inst, actor, root_id, sink, stamp)
    with inst.db.write() as s:
        _log(inst, s, actor, root, records, sink, None)
    return Ead3Export(records, records - 1, None, sink.hexdigest(), sink.size)


@dataclass(frozen=True)
class _Root:
    id: int
    archival_code: str | None


class _HashingSink:
    """A binary file wrapper that hashes and counts what passes through it."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._sha.update(data)
        self.size += len(data)
        self._fh.write(data)
        return len(data)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def _log(
    inst: Instance,
    s: Session,
    actor: Actor,
    root: _Root,
    records: int,
    sink: _HashingSink,
    path: Path | None,
) -> None:
    inst.audit.append(
        s,
        actor=actor.username,
        action=EventType.CATALOGUE_EXPORT_CREATED,
        object_type="record",
        object_id=root.id,
        detail={
            "format": "EAD3",
            "archival_code": root.archival_code,
            "records": records,
            "components": records - 1,
            "sha256": sink.hexdigest(),
            "bytes": sink.size,
            "file": path.name if path is not None else None,
        },
    )


def _write(
    inst: Instance, actor: Actor, root_id: int, sink: _HashingSink, stamp: datetime
) -> tuple[_Root, int]:
    with inst.db.read() as s:
        if not inst.db.is_sqlite:  # one snapshot for the outline and every batch
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        root = inst.catalogue.get(s, actor, root_id)
        order = _depth_first(root_id, inst.catalogue.subtree_outline(s, actor, root_id))
        w = _Writer(inst)
        with etree.xmlfile(sink, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(_q("ead"), nsmap={None: EAD3_NS}):
                _emit(xf, w.control(root, actor, stamp))
                with xf.element(_q("archdesc"), w.unit_attrib(root, None)):
                    for node in w.unit_children(root):
                        _emit(xf, node)
                    if len(order) > 1:
                        with xf.element(_q("dsc")):
                            _write_components(xf, s, w, order[1:], root.level)
        return _Root(root.id, root.archival_code), len(order)


def _write_components(
    xf: _IncrementalFileWriter,
    s: Session,
    w: _Writer,
    order: list[tuple[int, int]],
    root_level: str,
) -> None:
    """Write ``<c>`` elements in depth-first order, loading records one id batch at a time."""
    open_: list[tuple[AbstractContextManager[None], str]] = []
    it = iter(order)
    while chunk := list(islice(it, BATCH)):
        batch = {
            r.id: r for r in s.scalars(select(Record).where(Record.id.in_([i for i, _ in chunk])))
        }
        for rid, depth in chunk:
            while len(open_) >= depth:
                open_.pop()[0].__exit__(None, None, None)
            rec = batch[rid]
            parent_level = open_[-1][1] if open_ else root_level
            cm = xf.element(_q("c"), w.unit_attrib(rec, parent_level))
            cm.__enter__()
            open_.append((cm, rec.level))
            for node in w.unit_children(rec):
                _emit(xf, node)
        s.expunge_all()
    while open_:
        open_.pop()[0].__exit__(None, None, None)


def _depth_first(root_id: int, outline: list[tuple[int, int | None, int]]) -> list[tuple[int, int]]:
    """(id, depth) of every node reachable from the root, children in (position, id) order."""
    kids: dict[int, list[tuple[int, int]]] = {}
    for rid, parent, position in outline:
        if parent is not None and rid != root_id:
            kids.setdefault(parent, []).append((position, rid))
    for lst in kids.values():
        lst.sort()
    out: list[tuple[int, int]] = []
    stack: list[tuple[int, int]] = [(root_id, 0)]
    while stack:
        rid, depth = stack.pop()
        out.append((rid, depth))
        stack.extend((child, depth + 1) for _, child in reversed(kids.get(rid, [])))
    return out


# An element to write: (tag, attributes, text, children). Plain tuples are cheaper than lxml
# elements, and writing them through ``xmlfile.element`` keeps one namespace declaration per file.
_Node = tuple[str, dict[str, str], str | None, list["_Node"]]


def _n(tag: str, text: Any = None, kids: list[_Node] | None = None, **attrib: str) -> _Node:
    return (tag, attrib, None if text is None else _text(text), kids if kids is not None else [])


def _emit(xf: _IncrementalFileWriter, node: _Node) -> None:
    tag, attrib, text, kids = node
    with xf.element(_q(tag), attrib):
        if text is not None:
            xf.write(text)
        for kid in kids:
            _emit(xf, kid)


class _Writer:
    """Builds the EAD3 elements of one unit; holds the domain lookups for one export."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self._schemes: dict[str | None, MetadataScheme] = {}
        self._retention = inst.domain.table("retention")

    def scheme(self, category: str | None) -> MetadataScheme:
        found = self._schemes.get(category)
        if found is None:
            found = self._schemes[category] = self.inst.domain.scheme_for(category)
        return found

    # -- control ---------------------------------------------------------------------------------

    def control(self, root: Record, actor: Actor, stamp: datetime) -> _Node:
        settings = self.inst.settings
        agency = [_n("agencycode", settings.archive_code)] if settings.archive_code else []
        agency.append(_n("agencyname", settings.archive_name or "档案馆"))
        iso = stamp.isoformat().replace("+00:00", "Z")
        return _n(
            "control",
            kids=[
                _n("recordid", root.archival_code or root.uid),
                _n("otherrecordid", root.uid, localtype="uid"),
                _n("filedesc", kids=[_n("titlestmt", kids=[_n("titleproper", root.title)])]),
                _n("maintenancestatus", value="derived"),
                _n("maintenanceagency", kids=agency, countrycode="CN"),
                _n(
                    "languagedeclaration",
                    kids=[
                        _n("language", "中文", langcode="zh"),
                        _n("script", "简体汉字", scriptcode="Hans"),
                    ],
                ),
                _n("conventiondeclaration", kids=[_n("citation", "DA/T 18-2022 档案著录规则")]),
                _n(
                    "maintenancehistory",
                    kids=[
                        _n(
                            "maintenanceevent",
                            kids=[
                                _n("eventtype", value="derived"),
                                _n("eventdatetime", iso, standarddatetime=iso),
                                _n("agenttype", value="human"),
                                _n("agent", actor.display_name or actor.username),
                                _n(
                                    "eventdescription",
                                    "由兰台数字档案馆系统从目录数据库导出为 EAD3",
                                ),
                            ],
                        )
                    ],
                ),
            ],
            langencoding="iso639-1",
            scriptencoding="iso15924",
            dateencoding="iso8601",
            countryencoding="iso3166-1",
        )

    # -- units -----------------------------------------------------------------------------------

    @staticmethod
    def unit_attrib(rec: Record, parent_level: str | None) -> dict[str, str]:
        level = _EAD_LEVEL.get(rec.level, "otherlevel")
        if level == "series" and parent_level == Level.SERIES.value:
            level = "subseries"
        attrib = {"level": level, "id": f"lantai-{rec.uid}"}
        if level == "otherlevel":
            attrib["otherlevel"] = rec.level
        return attrib

    def unit_children(self, rec: Record) -> list[_Node]:
        values = rec.values()
        out = [self.did(rec, values)]
        for key, localtype in (
            ("security_level", "密级"),
            ("open_status", "开放标识"),
            ("disclosure", "公开属性"),
        ):
            if key in values:
                out.append(_block("accessrestrict", str(values[key]), localtype=localtype))
        if "retention" in values:
            code = str(values["retention"])
            label = self._retention.label(code)
            shown = f"{label}（{code}）" if label != code else code
            out.append(_block("appraisal", shown, localtype="保管期限"))
        if "destruction" in values:
            out.append(_block("appraisal", str(values["destruction"]), localtype="销毁情况"))
        for key, tag in (
            ("custody_history", "custodhist"),
            ("org_history", "bioghist"),
            ("abstract", "scopecontent"),
            ("original_location", "originalsloc"),
            ("copy_location", "altformavail"),
        ):
            if key in values:
                out.append(_block(tag, str(values[key])))
        if "notes" in values:
            out.append(_block("odd", str(values["notes"]), localtype="附注"))
        scheme = self.scheme(rec.category)
        for key, value in values.items():
            if key in _MAPPED:
                continue
            el = scheme.element(key)
            out.append(_block("odd", _display(value), localtype=el.name if el is not None else key))
        return out

    @staticmethod
    def did(rec: Record, values: dict[str, Any]) -> _Node:
        kids: list[_Node] = []
        if "archival_code" in values:
            kids.append(_n("unitid", values["archival_code"]))
        if "doc_number" in values:
            kids.append(_n("unitid", values["doc_number"], localtype="文号"))
        if "original_reference" in values:
            kids.append(_n("unitid", values["original_reference"], localtype="原参考代码"))
        kids.append(_n("unittitle", rec.title))
        if "date" in values:
            kids.append(_date(str(values["date"])))
        if "responsible" in values:
            part = _n("part", values["responsible"])
            kids.append(_n("origination", kids=[_n("corpname", kids=[part])]))
        if "carrier" in values:
            kids.append(_n("physdesc", values["carrier"]))
        if "pages" in values:
            kids.append(
                _n(
                    "physdescstructured",
                    kids=[_n("quantity", values["pages"]), _n("unittype", "页")],
                    physdescstructuredtype="materialtype",
                    coverage="whole",
                )
            )
        if "language" in values:
            name = str(values["language"])
            code = _LANGCODE.get(name)
            lang = _n("language", name, langcode=code) if code else _n("language", name)
            kids.append(_n("langmaterial", kids=[lang]))
        if "location" in values:
            kids.append(_n("physloc", values["location"]))
        return _n("did", kids=kids)


def _q(tag: str) -> str:
    return f"{{{EAD3_NS}}}{tag}"


def _text(value: Any) -> str:
    text = str(value)
    return _ILLEGAL_XML.sub("\ufffd", text) if _ILLEGAL_XML.search(text) else text


def _display(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "；".join(str(v) for v in value)
    return str(value)


def _block(tag: str, text: str, **attrib: str) -> _Node:
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [text]
    return _n(tag, kids=[_n("p", line) for line in lines], **attrib)


def _iso(part: str) -> str | None:
    m = _DATE_PART.match(part)
    if m is None:
        return None
    return "-".join(g for g in m.groups() if g)


def _date(raw: str) -> _Node:
    """日期 (YYYYMMDD, a span "起-止" of 4/6/8 digits, or a "[…]" 考证日期) → EAD3 date element."""
    inferred = raw.startswith("[") and raw.endswith("]")
    body = raw[1:-1] if inferred else raw
    parts = body.split("-")
    isos = [_iso(p) for p in parts]
    if not 1 <= len(parts) <= 2 or any(i is None for i in isos):
        return _n("unitdate", raw)
    attrib = {"certainty": "inferred"} if inferred else {}
    shown = [f"[{i}]" if inferred else str(i) for i in isos]
    if len(isos) == 1 or isos[0] == isos[1]:
        single = _n("datesingle", shown[0], standarddate=str(isos[0]))
        return _n("unitdatestructured", kids=[single], **attrib)
    rng = _n(
        "daterange",
        kids=[
            _n("fromdate", shown[0], standarddate=str(isos[0])),
            _n("todate", shown[1], standarddate=str(isos[1])),
        ],
    )
    return _n("unitdatestructured", kids=[rng], unitdatetype="inclusive", **attrib)
