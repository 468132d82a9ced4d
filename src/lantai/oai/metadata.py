"""The metadata formats the OAI-PMH provider disseminates: ``oai_dc`` and ``ead`` (EAD3).

Both are built from the **published** form of a record (``published_records``: masked 题名,
责任者 and fields), never from the archival master's own values; the structural columns (档号,
日期, 年度, 保管期限, 页数 …) come from the record. EAD3 is what Lantai exports best (a whole
fonds with :mod:`lantai.catalogue.ead3`); one OAI record is one unit described by the same
writer, as an ``<ead>`` whose ``archdesc`` is the record.

``oai_dc`` mapping (DA/T 18 → Dublin Core):

=================  ==========================================================
dc:title           题名 (masked)
dc:creator         责任者 (masked)
dc:subject         主题词, split on spaces and ；
dc:description     内容提要 / 附注 (masked)
dc:publisher       this archive (settings.archive_name)
dc:date            日期, as YYYY-MM-DD / YYYY-MM / YYYY when it has that form
dc:type            档案 and the level (案卷 / 件)
dc:format          载体 when given
dc:identifier      档号; 文号 as a second identifier
dc:source          全宗号
dc:language        语种 when given, else zh
dc:rights          开放
=================  ==========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from lxml import etree
from sqlalchemy import inspect

from lantai.archival import Level
from lantai.catalogue.ead3 import EAD3_NS, _Node, _Writer
from lantai.instance import Instance
from lantai.security import Actor
from lantai.store import PublishedRecord, Record

__all__ = [
    "DC_NS",
    "FORMATS",
    "OAI_DC_NS",
    "EadBuilder",
    "MetadataFormat",
    "PublicRecord",
    "ead_element",
    "oai_dc_element",
]

OAI_DC_NS: Final = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS: Final = "http://purl.org/dc/elements/1.1/"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
_ILLEGAL_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Values never put in a public record even when published (shelving, cataloguing workflow).
_PRIVATE_FIELDS: Final = frozenset({"location", "cataloguer", "catalogued_on", "security_level"})


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str


FORMATS: Final = {
    "oai_dc": MetadataFormat("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC_NS),
    "ead": MetadataFormat("ead", "http://www.loc.gov/ead/ead3.xsd", EAD3_NS),
}


@dataclass(frozen=True)
class PublicRecord:
    """What may be shown of one published record: the record's columns and the masked values."""

    record: Record
    published: PublishedRecord
    fonds_code: str | None

    def values(self) -> dict[str, Any]:
        rec, pub = self.record, self.published
        out: dict[str, Any] = {
            "archival_code": rec.archival_code,
            "date": rec.date,
            "year": rec.year,
            "retention": rec.retention,
            "doc_number": rec.doc_number,
            "pages": rec.pages,
            "open_status": rec.open_status,
        }
        out.update({k: v for k, v in (pub.fields or {}).items() if k not in _PRIVATE_FIELDS})
        out["title"] = pub.title
        out["responsible"] = pub.responsible
        return {k: v for k, v in out.items() if v is not None and v != ""}


def _clean(value: Any) -> str:
    text = str(value)
    return _ILLEGAL_XML.sub("\ufffd", text) if _ILLEGAL_XML.search(text) else text


def _iso_date(value: str) -> str:
    v = value.strip()
    if re.fullmatch(r"\d{8}", v):
        return f"{v[:4]}-{v[4:6]}-{v[6:]}"
    if re.fullmatch(r"\d{6}", v):
        return f"{v[:4]}-{v[4:]}"
    return v


_DC = {name: f"{{{DC_NS}}}{name}" for name in (
    "title", "creator", "subject", "description", "publisher", "date", "type", "format",
    "identifier", "source", "language", "rights",
)}  # fmt: skip


def oai_dc_element(inst: Instance, pub: PublicRecord) -> etree._Element:
    """``<oai_dc:dc>`` of one published record."""
    v = pub.values()
    root = etree.Element(
        f"{{{OAI_DC_NS}}}dc",
        nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS},
    )
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {FORMATS['oai_dc'].schema}")

    def add(name: str, value: Any) -> None:
        if value is not None and str(value).strip():
            etree.SubElement(root, _DC[name]).text = _clean(value)

    add("title", v.get("title"))
    add("creator", v.get("responsible"))
    for word in re.split(r"[\s；;，,]+", str(v.get("keywords", ""))):
        add("subject", word)
    add("description", v.get("abstract"))
    add("description", v.get("notes"))
    add("publisher", inst.settings.archive_name)
    if "date" in v:
        add("date", _iso_date(str(v["date"])))
    elif "year" in v:
        add("date", v["year"])
    level = pub.record.level
    add("type", f"档案（{Level(level).label}）" if level in Level._value2member_map_ else "档案")
    add("format", v.get("carrier"))
    add("identifier", v.get("archival_code"))
    add("identifier", v.get("doc_number"))
    add("source", f"全宗号 {pub.fonds_code}" if pub.fonds_code else None)
    add("language", v.get("language") or "zh")
    add("rights", "开放")
    return root


_COLUMNS: Final = tuple(a.key for a in inspect(Record).column_attrs)


def _public_clone(pub: PublicRecord) -> Record:
    """A detached Record carrying only public values (masked title, responsible, fields)."""
    clone = Record()
    for key in _COLUMNS:
        setattr(clone, key, getattr(pub.record, key))
    clone.title = pub.published.title
    clone.responsible = pub.published.responsible
    clone.fields = {
        k: v for k, v in (pub.published.fields or {}).items() if k not in _PRIVATE_FIELDS
    }
    clone.security_level = None
    return clone


def _build(node: _Node) -> etree._Element:
    tag, attrib, text, kids = node
    el = etree.Element(f"{{{EAD3_NS}}}{tag}", attrib, nsmap={None: EAD3_NS})
    if text is not None:
        el.text = text
    for kid in kids:
        el.append(_build(kid))
    return el


class EadBuilder:
    """Builds one-unit EAD3 documents; holds the export writer's domain lookups for a response."""

    def __init__(self, inst: Instance) -> None:
        self._writer = _Writer(inst)
        self._actor = Actor(username="oai", display_name=inst.settings.archive_name or "档案馆")

    def element(self, pub: PublicRecord, stamp: datetime) -> etree._Element:
        rec = _public_clone(pub)
        w = self._writer
        root = etree.Element(f"{{{EAD3_NS}}}ead", nsmap={None: EAD3_NS})
        root.append(_build(w.control(rec, self._actor, stamp.replace(microsecond=0))))
        archdesc = _build(("archdesc", w.unit_attrib(rec, None), None, w.unit_children(rec)))
        root.append(archdesc)
        return root


def ead_element(inst: Instance, pub: PublicRecord, stamp: datetime) -> etree._Element:
    """``<ead>`` (EAD3) of one published record."""
    return EadBuilder(inst).element(pub, stamp)
