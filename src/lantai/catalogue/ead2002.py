"""Import an EAD 2002 finding aid as a new 全宗, in one transaction, or not at all.

Steps: read the file once (size limit ``max_upload_mb``) and hash it; parse it with
:mod:`lantai.formats.xmlsafe`; check the flavour; validate it against the shipped EAD 2002 XSD;
read the description tree into memory; decide each unit's level and values; then create every
record through :class:`~lantai.catalogue.Catalogue` (so DA/T 18 必著, value ranges and 档号 rules
are checked exactly as for any other record) inside one write transaction. Every problem found,
whether XSD or DA/T 18, is collected with its line and reported at once; nothing is written
unless the whole file imports.

Decisions
=========

* **Only the XSD (namespaced) flavour is imported.** A document whose root is a no-namespace
  ``<ead>`` (the DTD flavour, usually with ``<!DOCTYPE ead PUBLIC … "ead.dtd">``) is rejected with
  "EAD 2002 DTD 版本不受支持，请转换为 XSD 命名空间版本". It cannot be validated offline: the DTD
  is not shipped and the safe parser never loads DTDs. Converting it here would validate a
  document the archive never received, and the mechanical conversion is lossy (``entityref``,
  XLink attributes), so it would report errors the sender cannot recognise. SAA publishes
  ``dtd2schema.xsl`` for the conversion; the sender should run it and send the result.
* **Levels.** A container 类别 titled "<门类>档案" is created under the new 全宗 with the caller's
  ``category`` (default WS); the EAD components go below it in document order:

  ========================================================  ===========================
  EAD ``c``/``c01``…``c12``                                  Lantai
  ========================================================  ===========================
  ``@level`` series, subseries, collection, fonds, subfonds,  类别
  recordgrp, subgrp, class, otherlevel
  ``file``, when the 门类's 案卷 档号 rule needs nothing      案卷
  but 全宗号, 门类, 年度 and 保管期限 (ZP in the shipped rules)
  ``file`` otherwise (按件整理 categories such as WS have     类别 if it has components,
  no 案卷 level, DA/T 22-2015)                                else 件
  ``item`` or no ``@level``                                   件; 类别 if it has components
  anything inside a 案卷                                      件 (卷内文件), nested ones
                                                              flattened in document order
  ========================================================  ===========================

* **Values** (``archdesc/did`` for the 全宗, ``c/did`` for components):

  ================================================  ===============================================
  EAD 2002                                          Lantai
  ================================================  ===============================================
  ``archdesc/did/unitid``                           全宗号 if it fits the 全宗号 pattern (else the
                                                    caller must pass ``fonds_code``); always kept
                                                    as 原参考代码
  ``c/did/unitid``                                  原参考代码 (a foreign unitid is never a 档号;
                                                    档号 are assigned by this archive's rules)
  ``unittitle``                                     题名 ("[无题名]" when absent, DA/T 18 [ ])
  ``unitdate`` (``@normal`` first, else the years    日期 and 年度; bulk dates ignored. 全宗, 类别
  or ISO dates in the text; all non-bulk dates      and 案卷 take the span. A 件 needs a day: when
  combined)                                         the source has none, the first day of the
                                                    period is written as a 考证日期 "[YYYYMMDD]"
                                                    and the original expression goes to 附注.
                                                    Undated units inherit the nearest ancestor's
                                                    date (EAD's multilevel inheritance), noted.
  ``origination``                                   责任者, inherited downwards; when no level has
                                                    one: "（EAD 原文未著录责任者）"
  ``physdesc`` (``extent``s)                        载体形态; an extent "N pages" also → 页数
  ``langmaterial/language/@langcode``               语种 (ISO 639-2 → 汉语/英语/…; others kept)
  ``physloc``, ``container``                        存储位置
  ``did/abstract``, ``scopecontent``                范围和提要
  ``custodhist``, ``acqinfo``                       档案保管沿革; the 全宗 requires it (DA/T 18):
                                                    when absent "（EAD 导入，原文未著录保管沿革）"
  ``bioghist``                                      组织机构沿革
  ``controlaccess``                                 主题词或关键词
  ``accessrestrict``, ``userestrict``, ``odd``,       附注 (labelled). 开放标识 stays 未审核: opening
  ``arrangement``, ``processinfo``, ``note``          is decided by this archive's 开放鉴定.
  —                                                 保管期限: the caller's ``retention`` (default Y
                                                    永久, the term of records held by a 综合档案馆)
  ``dao``, ``daogrp``                               not imported (counted in the notes)
  ================================================  ===============================================

  A value that is not applicable at the unit's level (e.g. 组织机构沿革 on a 件) is kept in 附注
  as "名称：值". A value longer than its element allows is cut with "……（已截断）" and noted.
  Every adaptation is returned in :attr:`EadImport.notes` with its line, and the 全宗's 附注
  records the file, its SHA-256 and the defaults applied.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from lxml import etree
from sqlalchemy.orm import Session

from lantai.archival import Level, MetadataScheme
from lantai.audit import EventType
from lantai.errors import Problem, ValidationFailed
from lantai.formats import parse_bytes, read_bounded, validate
from lantai.security import Actor, Perm

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = ["EAD2002_NS", "EadImport", "import_ead2002"]

EAD2002_NS: Final = "urn:isbn:1-931666-22-9"
EAD3_NS: Final = "http://ead3.archivists.org/schema/"
RULE_FLAVOUR: Final = "EAD 2002 XSD 版本"
RULE_MAPPING: Final = "EAD 导入映射"
NO_TITLE: Final = "[无题名]"
NO_RESPONSIBLE: Final = "（EAD 原文未著录责任者）"
NO_CUSTODY: Final = "（EAD 导入，原文未著录保管沿革）"
TRUNCATED: Final = "……（已截断）"
MAX_PROBLEMS: Final = 500

_COMPONENT_TAGS: Final = frozenset({"c", *(f"c{i:02d}" for i in range(1, 13))})
_GROUP_LEVELS: Final = frozenset(
    {
        "series",
        "subseries",
        "collection",
        "fonds",
        "subfonds",
        "recordgrp",
        "subgrp",
        "class",
        "otherlevel",
    }
)
_CODE_FIELDS_SUPPLIED: Final = frozenset({"fonds_code", "category", "year", "retention"})
_LANGUAGES: Final = {
    "chi": "汉语",
    "zho": "汉语",
    "eng": "英语",
    "tib": "藏语",
    "bod": "藏语",
    "uig": "维吾尔语",
    "mon": "蒙古语",
}
_NOTE_TAGS: Final = (
    ("accessrestrict", "访问限制"),
    ("userestrict", "使用限制"),
    ("arrangement", "整理情况"),
    ("processinfo", "处理信息"),
    ("odd", "其他说明"),
)
_PAGES: Final = re.compile(r"^\s*(\d{1,6})\s*(?:pages?|pp?\.?|页)\s*$", re.IGNORECASE)
_NORMAL_PART: Final = re.compile(r"^(\d{4})(?:-?(\d{2})(?:-?(\d{2}))?)?$")
_ISO_DAY: Final = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_YEAR: Final = re.compile(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)")


@dataclass(frozen=True)
class EadImport:
    """The outcome of one successful import."""

    fonds_id: int
    fonds_code: str
    category: str
    components: int  # EAD components (c, c01…c12) read from the file
    records: int  # records created: the 全宗, the 门类 类别 and one per component
    levels: dict[str, int]  # created records by Lantai level value
    notes: tuple[Problem, ...]  # how the description was adapted, with lines
    sha256: str


@dataclass
class _Span:
    """A period as 4/6/8-digit strings; ``expression`` is the source text."""

    start: str
    end: str
    expression: str

    @property
    def exact_day(self) -> bool:
        return self.start == self.end and len(self.start) == 8

    def text(self) -> str:
        return self.start if self.start == self.end else f"{self.start}-{self.end}"


@dataclass
class _Unit:
    """One EAD unit of description (archdesc or a component), as read from the file."""

    line: int
    ead_level: str | None
    unitid: str | None = None
    title: str | None = None
    span: _Span | None = None
    date_expression: str | None = None
    origination: str | None = None
    extent: str | None = None
    pages: int | None = None
    language: str | None = None
    location: str | None = None
    abstract: str | None = None
    custody: str | None = None
    bioghist: str | None = None
    keywords: str | None = None
    notes: list[str] = field(default_factory=list)
    daos: int = 0
    children: list[_Unit] = field(default_factory=list)


@dataclass
class _Plan:
    """One record to create: its level, values and the plan of its children."""

    unit: _Unit
    level: Level
    values: dict[str, Any]
    children: list[_Plan] = field(default_factory=list)


class _Notes:
    """Adaptation notes, merged by message with a count and the first line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._first: dict[str, int] = {}
        self._count: Counter[str] = Counter()

    def add(self, message: str, line: int) -> None:
        self._first.setdefault(message, line)
        self._count[message] += 1

    def problems(self) -> tuple[Problem, ...]:
        out = []
        for msg, line in self._first.items():
            n = self._count[msg]
            text = msg if n == 1 else f"{msg}（共 {n} 处）"
            out.append(Problem(message=text, rule=RULE_MAPPING, file=self.file, row=line))
        return tuple(out)


def import_ead2002(
    inst: Instance,
    actor: Actor,
    path: Path,
    *,
    fonds_code: str | None = None,
    category: str = "WS",
    retention: str = "Y",
) -> EadImport:
    """Import the EAD 2002 finding aid at ``path`` as a new 全宗 (see the module docstring).

    Raises :class:`~lantai.formats.XmlRefused` for unsafe or malformed XML and
    :class:`~lantai.errors.ValidationFailed` (every problem with its line) for the DTD flavour, an
    XSD violation or a description that cannot satisfy DA/T 18; nothing is written then.
    """
    actor.require(Perm.CATALOGUE_IMPORT)
    name = path.name
    data = read_bounded(path, max_bytes=inst.settings.max_upload_mb * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    tree = parse_bytes(data, name=name)
    root = tree.getroot()
    _check_flavour(root, name)
    schema_problems = validate(tree, "ead2002", file=name)
    if schema_problems:
        raise ValidationFailed(
            f"EAD 文件「{name}」不符合 EAD 2002 XML Schema，未导入", schema_problems
        )
    archdesc = root.find(_q("archdesc"))
    assert archdesc is not None  # required by the schema
    top = _read_unit(archdesc)
    eadid = _inline(root.find(f"{_q('eadheader')}/{_q('eadid')}")) or None
    notes = _Notes(name)
    if (top.ead_level or "fonds") not in ("fonds", "collection", "recordgrp"):
        notes.add(f'archdesc 的 level="{top.ead_level}"，整体作为一个全宗导入', top.line)
    setup = _Setup.build(
        inst, name, top, fonds_code=fonds_code, category=category, retention=retention
    )
    if top.span is None:
        spans = [u.span for u, _ in _flatten(top.children, (None, None)) if u.span is not None]
        if spans:
            top.span = _merge(spans, "")
            notes.add("archdesc 未著录日期，全宗日期按各组件日期的起止著录", top.line)
    ctx = (top.span, top.origination)
    plans = [_plan(setup, unit, ctx, notes, inside_file=False) for unit in top.children]
    fonds_values = _fonds_values(setup, top, notes, name=name, eadid=eadid, digest=digest)
    with inst.db.write() as s:
        created = _create_all(inst, s, actor, setup, top, fonds_values, plans)
        inst.audit.append(
            s,
            actor=actor.username,
            action=EventType.CATALOGUE_IMPORT_COMPLETED,
            object_type="record",
            object_id=created.fonds_id,
            detail={
                "format": "EAD 2002",
                "file": name,
                "sha256": digest,
                "eadid": eadid,
                "fonds_code": setup.fonds_code,
                "category": setup.category,
                "records": created.records,
                "levels": dict(created.levels),
            },
        )
    return EadImport(
        fonds_id=created.fonds_id,
        fonds_code=setup.fonds_code,
        category=setup.category,
        components=_count(top.children),
        records=created.records,
        levels=dict(created.levels),
        notes=notes.problems(),
        sha256=digest,
    )


# -- reading ------------------------------------------------------------------------------------


def _q(tag: str) -> str:
    return f"{{{EAD2002_NS}}}{tag}"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _check_flavour(root: etree._Element, name: str) -> None:
    qn = etree.QName(root)
    if qn.localname == "ead" and qn.namespace == EAD2002_NS:
        return
    if qn.localname == "ead" and qn.namespace is None:
        message = (
            "EAD 2002 DTD 版本不受支持，请转换为 XSD 命名空间版本"
            '（根元素应为 <ead xmlns="urn:isbn:1-931666-22-9">；可用 SAA 的 dtd2schema.xsl 转换）'
        )
    elif qn.localname == "ead" and qn.namespace == EAD3_NS:
        message = "这是 EAD3 文件；目前只能导入 EAD 2002（XSD 命名空间版本）"
    else:
        message = f"不是 EAD 文件：根元素为 <{qn.localname}>（命名空间 {qn.namespace or '无'}）"
    raise ValidationFailed(
        f"EAD 文件「{name}」未导入",
        [Problem(message=message, rule=RULE_FLAVOUR, file=name, row=root.sourceline)],
    )


def _inline(el: etree._Element | None) -> str:
    """The element's text with nested markup flattened and whitespace collapsed."""
    if el is None:
        return ""
    return " ".join("".join(el.itertext()).split())


def _blocks(el: etree._Element) -> str:
    """Narrative text: one line per block child (head skipped), nested sections flattened."""
    lines: list[str] = []
    lead = " ".join((el.text or "").split())
    if lead:
        lines.append(lead)
    for child in el:
        if not isinstance(child.tag, str) or _local(child) == "head":
            continue
        text = _inline(child)
        if text:
            lines.append(text)
    return "\n".join(lines)


def _joined(parts: Iterator[str] | list[str], sep: str = "；") -> str | None:
    kept = [p for p in parts if p]
    return sep.join(dict.fromkeys(kept)) if kept else None


def _read_unit(el: etree._Element) -> _Unit:
    unit = _Unit(line=el.sourceline or 0, ead_level=el.get("level"))
    did = el.find(_q("did"))
    if did is not None:
        _read_did(unit, did)
    narrative: dict[str, list[str]] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        tag = _local(child)
        if tag in _COMPONENT_TAGS:
            unit.children.append(_read_unit(child))
        elif tag == "dsc":
            unit.children.extend(_read_unit(c) for c in _dsc_components(child))
        elif tag in ("dao", "daogrp"):
            unit.daos += 1
        elif tag == "controlaccess":
            unit.keywords = _joined(
                [
                    _inline(x)
                    for x in child.iter()
                    if x is not child
                    and isinstance(x.tag, str)
                    and _local(x) != "head"
                    and not len(x)
                ]
            )
        elif tag != "did":
            narrative.setdefault(tag, []).append(_blocks(child))
    unit.abstract = _joined([unit.abstract or "", *narrative.get("scopecontent", [])], "\n")
    unit.custody = _joined([*narrative.get("custodhist", []), *narrative.get("acqinfo", [])], "\n")
    unit.bioghist = _joined(narrative.get("bioghist", []), "\n")
    for tag, label in _NOTE_TAGS:
        for text in narrative.get(tag, []):
            if text:
                unit.notes.append(f"{label}：{text}")
    return unit


def _dsc_components(dsc: etree._Element) -> Iterator[etree._Element]:
    """The top components of a ``dsc``, including those of ``dsc`` elements nested in it."""
    for child in dsc:
        tag = _local(child)
        if tag in _COMPONENT_TAGS:
            yield child
        elif tag == "dsc":
            yield from _dsc_components(child)


def _read_did(unit: _Unit, did: etree._Element) -> None:
    spans: list[_Span] = []
    expressions: list[str] = []
    locations: list[str] = []
    extents: list[str] = []
    for child in did:
        if not isinstance(child.tag, str):
            continue
        tag = _local(child)
        if tag == "unitid" and unit.unitid is None:
            unit.unitid = _inline(child) or None
        elif tag == "unittitle" and unit.title is None:
            unit.title = _inline(child) or None
        elif tag == "unitdate" and child.get("type") != "bulk":
            text = _inline(child)
            if text:
                expressions.append(text)
            span = _parse_date(child.get("normal"), text)
            if span is not None:
                spans.append(span)
        elif tag == "origination":
            unit.origination = _joined([unit.origination or "", _inline(child)])
        elif tag == "physdesc":
            found = [_inline(x) for x in child.iter(_q("extent"))]
            extents.extend(found if found else [_inline(child)])
        elif tag == "langmaterial":
            langs = [
                _LANGUAGES.get((x.get("langcode") or "").lower())
                or _inline(x)
                or x.get("langcode")
                or ""
                for x in child.iter(_q("language"))
            ]
            unit.language = _joined(langs, "、") or unit.language
        elif tag == "physloc":
            locations.append(_inline(child))
        elif tag == "container":
            text = _inline(child)
            if text:
                kind = child.get("type") or child.get("label") or ""
                locations.append(f"{kind} {text}".strip())
        elif tag == "abstract":
            unit.abstract = _joined([unit.abstract or "", _inline(child)], "\n")
        elif tag in ("dao", "daogrp"):
            unit.daos += 1
        elif tag == "note":
            text = _inline(child)
            if text:
                unit.notes.append(f"附注：{text}")
    if spans:
        unit.span = _merge(spans, "；".join(expressions))
    unit.date_expression = "；".join(expressions) or None
    unit.location = _joined(locations)
    unit.extent = _joined(extents)
    for extent in extents:
        m = _PAGES.match(extent)
        if m:
            unit.pages = int(m.group(1))
            break


def _merge(spans: list[_Span], expression: str) -> _Span:
    """The period covering every span, each bound kept at its own precision."""
    first = min(spans, key=lambda x: x.start.ljust(8, "0"))
    last = max(spans, key=lambda x: x.end.ljust(8, "9"))
    return _Span(first.start, last.end, expression)


def _valid_part(y: str, m: str | None, d: str | None) -> str | None:
    try:
        if m is not None and not 1 <= int(m) <= 12:
            return None
        if d is not None:
            date(int(y), int(m or 1), int(d))
    except ValueError:
        return None
    return y + (m or "") + (d or "") if m is not None else y


def _parse_date(normal: str | None, text: str) -> _Span | None:
    """A period from ``@normal`` (ISO 8601, "a/b") or, failing that, from the text."""
    if normal:
        parts = normal.strip().split("/")
        parsed = []
        for part in parts[:2]:
            m = _NORMAL_PART.match(part.strip())
            v = _valid_part(m.group(1), m.group(2), m.group(3)) if m else None
            if v is None:
                break
            parsed.append(v)
        else:
            if parsed:
                start, end = parsed[0], parsed[-1]
                if start.ljust(8, "0") <= end.ljust(8, "9"):
                    return _Span(start, end, text or normal)
    days = [
        v for v in (_valid_part(y, m, d) for y, m, d in _ISO_DAY.findall(text)) if v is not None
    ]
    years = _YEAR.findall(_ISO_DAY.sub(" ", text))
    if days and not years:
        return _Span(min(days), max(days), text)
    all_years = sorted({*years, *(d[:4] for d in days)})
    if all_years:
        return _Span(all_years[0], all_years[-1], text)
    return None


def _count(units: list[_Unit]) -> int:
    return sum(1 + _count(u.children) for u in units)


# -- planning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Setup:
    """Everything the plan needs from the caller and the domain, checked before any write."""

    name: str
    fonds_code: str
    category: str
    category_label: str
    retention: str
    retention_label: str
    file_ok: bool
    scheme: MetadataScheme
    fonds_scheme: MetadataScheme

    @classmethod
    def build(
        cls,
        inst: Instance,
        name: str,
        top: _Unit,
        *,
        fonds_code: str | None,
        category: str,
        retention: str,
    ) -> _Setup:
        domain = inst.domain
        problems: list[Problem] = []
        pattern = domain.raw.archival_codes.fields["fonds_code"].pattern or "[A-Z0-9]{4}"
        code = (fonds_code or "").strip().upper()
        if not code:
            candidate = (top.unitid or "").strip().upper()
            if re.fullmatch(pattern, candidate):
                code = candidate
            else:
                problems.append(
                    Problem(
                        field="全宗号",
                        value=top.unitid,
                        rule="DA/T 13-2022 全宗号",
                        file=name,
                        row=top.line,
                        message=(
                            f"archdesc 的 unitid「{top.unitid or ''}」不是 4 位字母或数字的全宗号，"
                            "请指定全宗号（--fonds-code）"
                        ),
                    )
                )
        categories = domain.table("category")
        cat = categories.normalize(category) or ""
        if cat not in categories:
            problems.append(
                Problem(
                    field="门类",
                    value=category,
                    rule="门类代码表（DA/T 13-2022）",
                    message=f"「{category}」不是有效的门类代码（{'、'.join(categories.codes())}）",
                )
            )
        retentions = domain.table("retention")
        ret = retentions.normalize(retention) or ""
        if ret not in retentions:
            problems.append(
                Problem(
                    field="保管期限",
                    value=retention,
                    rule="保管期限代码表",
                    message=f"「{retention}」不是有效的保管期限（{'、'.join(retentions.codes())}）",
                )
            )
        file_ok = False
        if cat and not problems:
            file_rule = domain.codes.rule_for(
                fonds_code=code, category=cat, level=Level.FILE, parent_level=Level.SERIES
            )
            file_ok = (
                file_rule is not None and set(file_rule.required_fields) <= _CODE_FIELDS_SUPPLIED
            )
            item_rule = domain.codes.rule_for(
                fonds_code=code, category=cat, level=Level.ITEM, parent_level=Level.SERIES
            )
            if (
                item_rule is not None
                and not set(item_rule.required_fields) <= _CODE_FIELDS_SUPPLIED
            ):
                missing = sorted(set(item_rule.required_fields) - _CODE_FIELDS_SUPPLIED)
                problems.append(
                    Problem(
                        field="门类",
                        value=cat,
                        rule=item_rule.id,
                        message=(
                            f"门类「{cat}」的件档号规则需要 {'、'.join(item_rule.label(f) for f in missing)}，"
                            "EAD 中没有对应著录项；请选择其他门类"
                        ),
                    )
                )
        if problems:
            raise ValidationFailed(f"EAD 文件「{name}」未导入", problems)
        return cls(
            name=name,
            fonds_code=code,
            category=cat,
            category_label=categories.label(cat),
            retention=ret,
            retention_label=retentions.label(ret),
            file_ok=file_ok,
            scheme=domain.scheme_for(cat),
            fonds_scheme=domain.scheme_for(None),
        )


def _decide(setup: _Setup, unit: _Unit, notes: _Notes, *, inside_file: bool) -> Level:
    level = (unit.ead_level or "").lower()
    if inside_file:
        if unit.children:
            notes.add("案卷内的多层组件已展平为卷内文件（件）", unit.line)
        return Level.ITEM
    if level == "file" and setup.file_ok:
        return Level.FILE
    if level in _GROUP_LEVELS:
        return Level.SERIES
    if unit.children:
        if level in ("file", "item"):
            notes.add(f'level="{level}" 的组件含下级组件，著录为类别', unit.line)
        return Level.SERIES
    if level == "file":
        notes.add(
            f'门类「{setup.category}」按件整理、无案卷层级，level="file" 的组件著录为件',
            unit.line,
        )
    return Level.ITEM


_Context = tuple[_Span | None, str | None]  # inherited (date, 责任者)


def _plan(setup: _Setup, unit: _Unit, ctx: _Context, notes: _Notes, *, inside_file: bool) -> _Plan:
    """The record for ``unit`` and, recursively, its children (flattened inside a 案卷)."""
    span = unit.span or ctx[0]
    responsible = unit.origination or ctx[1]
    level = _decide(setup, unit, notes, inside_file=inside_file)
    plan = _Plan(unit, level, _unit_values(setup, unit, level, span, responsible, notes))
    if inside_file:
        return plan  # its descendants were flattened into the 案卷 by the caller
    if level is Level.FILE:
        plan.children = [
            _plan(setup, child, child_ctx, notes, inside_file=True)
            for child, child_ctx in _flatten(unit.children, (span, responsible))
        ]
    else:
        plan.children = [
            _plan(setup, child, (span, responsible), notes, inside_file=False)
            for child in unit.children
        ]
    return plan


def _flatten(units: list[_Unit], ctx: _Context) -> Iterator[tuple[_Unit, _Context]]:
    """Every unit below, in document order, each with the context inherited from its ancestors."""
    for u in units:
        yield u, ctx
        yield from _flatten(u.children, (u.span or ctx[0], u.origination or ctx[1]))


def _unit_values(
    setup: _Setup,
    unit: _Unit,
    level: Level,
    span: _Span | None,
    responsible: str | None,
    notes: _Notes,
) -> dict[str, Any]:
    own_notes: list[str] = []
    raw: dict[str, Any] = {
        "title": unit.title or NO_TITLE,
        "original_reference": unit.unitid,
        "carrier": unit.extent,
        "pages": unit.pages,
        "language": unit.language,
        "location": unit.location,
        "abstract": unit.abstract,
        "custody_history": unit.custody,
        "org_history": unit.bioghist,
        "keywords": unit.keywords,
    }
    if unit.title is None:
        notes.add(f"组件没有 unittitle，题名著录为「{NO_TITLE}」", unit.line)
    if level is Level.SERIES:
        raw["date"] = unit.span.text() if unit.span else None
        raw["responsible"] = unit.origination
    else:
        raw["responsible"] = responsible or NO_RESPONSIBLE
        if responsible is None:
            notes.add(f"各层级均未著录 origination，责任者著录为「{NO_RESPONSIBLE}」", unit.line)
        raw["retention"] = setup.retention
        if span is not None:
            if unit.span is None:
                own_notes.append(
                    f"日期：EAD 原文未著录，继承上级著录单元的日期「{span.expression or span.text()}」"
                )
                notes.add("组件未著录日期，继承上级著录单元的日期", unit.line)
            raw["year"] = int(span.start[:4])
            if level is Level.FILE:
                raw["date"] = span.text()
            elif span.exact_day:
                raw["date"] = span.start
            else:
                inferred = f"[{span.start}{'0101'[len(span.start) - 4 :]}]"  # first day
                raw["date"] = inferred
                if unit.span is not None:
                    own_notes.append(
                        f"日期：EAD 原文为「{span.expression or span.text()}」，未精确到日，按考证日期著录为「{inferred}」"
                    )
                notes.add(
                    "件的日期未精确到日，按所属期间首日著录为考证日期「[YYYYMMDD]」", unit.line
                )
    if unit.date_expression and unit.span is None:
        own_notes.append(f"原日期表述：{unit.date_expression}")
        notes.add("unitdate 无法识别为日期，原文保留在附注", unit.line)
    if unit.daos:
        notes.add("数字对象链接（dao/daogrp）未导入", unit.line)
    return _fit(setup.scheme, level, raw, [*own_notes, *unit.notes], unit.line, notes)


def _fit(
    scheme: MetadataScheme,
    level: Level,
    raw: Mapping[str, Any],
    extra_notes: list[str],
    line: int,
    notes: _Notes,
) -> dict[str, Any]:
    """Keep values applicable at ``level`` (others go to 附注) and cut over-long text."""
    values: dict[str, Any] = {}
    folded: list[str] = []
    for key, value in raw.items():
        if value is None or value == "":
            continue
        el = scheme.element(key)
        if el is None or el.obligation_at(level) is None:
            folded.append(f"{el.name if el else key}：{value}")
            continue
        values[key] = _cut(value, el.max_length, el.name, line, notes)
    note_text = "\n".join([*extra_notes, *folded])
    if note_text:
        el = scheme.element("notes")
        values["notes"] = _cut(note_text, el.max_length if el else None, "附注", line, notes)
    return values


def _cut(value: Any, limit: int | None, label: str, line: int, notes: _Notes) -> Any:
    if not isinstance(value, str) or limit is None or len(value) <= limit:
        return value
    notes.add(f"「{label}」超过 {limit} 个字符，已截断", line)
    return value[: limit - len(TRUNCATED)] + TRUNCATED


def _fonds_values(
    setup: _Setup,
    top: _Unit,
    notes: _Notes,
    *,
    name: str,
    eadid: str | None,
    digest: str,
) -> dict[str, Any]:
    span = top.span
    summary = [
        f"由 EAD 2002 文件「{name}」（eadid：{eadid or '无'}，SHA-256：{digest}）导入。",
        f"保管期限按导入参数统一著录为「{setup.retention_label}」；开放标识为「未审核」，待本馆开放鉴定。",
    ]
    if top.origination is None:
        summary.append(f"EAD 未著录 origination，责任者著录为「{NO_RESPONSIBLE}」。")
    if top.custody is None:
        summary.append(f"EAD 未著录 custodhist/acqinfo，档案保管沿革著录为「{NO_CUSTODY}」。")
        notes.add(
            f"archdesc 未著录 custodhist/acqinfo，档案保管沿革著录为「{NO_CUSTODY}」", top.line
        )
    if top.origination is None:
        notes.add(f"archdesc 未著录 origination，全宗责任者著录为「{NO_RESPONSIBLE}」", top.line)
    raw: dict[str, Any] = {
        "title": top.title or NO_TITLE,
        "responsible": top.origination or NO_RESPONSIBLE,
        "date": span.text() if span is not None else None,
        "custody_history": top.custody or NO_CUSTODY,
        "org_history": top.bioghist,
        "abstract": top.abstract,
        "carrier": top.extent,
        "location": top.location,
        "original_reference": top.unitid,
        "keywords": top.keywords,
        "language": top.language,
    }
    return _fit(
        setup.fonds_scheme, Level.FONDS, raw, [" ".join(summary), *top.notes], top.line, notes
    )


# -- writing ------------------------------------------------------------------------------------


@dataclass
class _Created:
    fonds_id: int = 0
    records: int = 0
    levels: Counter[str] = field(default_factory=Counter)


def _create_all(
    inst: Instance,
    s: Session,
    actor: Actor,
    setup: _Setup,
    top: _Unit,
    fonds_values: dict[str, Any],
    plans: list[_Plan],
) -> _Created:
    cat = inst.catalogue
    created = _Created()
    values = dict(fonds_values)
    try:
        fonds = cat.create_fonds(
            s,
            actor,
            code=setup.fonds_code,
            name=values.pop("title"),
            responsible=values.pop("responsible"),
            values=values,
        )
    except ValidationFailed as exc:
        raise ValidationFailed(
            f"EAD 文件「{setup.name}」未导入：全宗未创建",
            _located(exc.problems, setup.name, top.line),
        ) from None
    created.fonds_id = fonds.id
    created.records = 1
    created.levels[Level.FONDS.value] += 1
    if not plans:
        return created
    detail = {"source": "EAD 2002", "file": setup.name}
    container = cat.create_record(
        s,
        actor,
        parent_id=fonds.id,
        level=Level.SERIES,
        values={"title": f"{setup.category_label}档案"},
        category=setup.category,
        event_detail=detail,
    )
    created.records += 1
    created.levels[Level.SERIES.value] += 1
    problems: list[Problem] = []
    stack: list[tuple[int, _Plan]] = [(container.id, p) for p in reversed(plans)]
    while stack and len(problems) < MAX_PROBLEMS:
        parent_id, plan = stack.pop()
        try:
            rec = cat.create_record(
                s,
                actor,
                parent_id=parent_id,
                level=plan.level,
                values=plan.values,
                event_detail={**detail, "line": plan.unit.line},
            )
        except ValidationFailed as exc:
            problems.extend(_located(exc.problems, setup.name, plan.unit.line, plan.level))
            continue  # its subtree has no parent; keep checking the rest
        created.records += 1
        created.levels[plan.level.value] += 1
        stack.extend((rec.id, child) for child in reversed(plan.children))
    if problems:
        raise ValidationFailed(
            f"EAD 文件「{setup.name}」未导入：{len(problems)} 处著录不符合 DA/T 18 规则", problems
        )
    return created


def _located(
    problems: list[Problem], file: str, line: int, level: Level | None = None
) -> list[Problem]:
    prefix = f"（著录为{level.label}）" if level is not None else ""
    return [
        replace(
            p, file=file, row=p.row if p.row is not None else line, message=f"{p.message}{prefix}"
        )
        for p in problems
    ]
