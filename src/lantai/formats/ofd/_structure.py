"""The OFD document structure (GB/T 33190-2016 §7) walked and checked.

:func:`walk` follows OFD.xml → DocBody → Document.xml → Pages (what page counts and text need);
:func:`check_all` goes on through every part the document references — resources and their files,
page content, templates, annotations, attachments, custom tags and the signature structure — so
that every ST_Loc is resolved once. Both record their findings as issues on the package.

The rules are a transcription of the standard's XSDs (OFD.xsd, Document.xsd, Page.xsd, Res.xsd,
Signatures.xsd, Signature.xsd, Attachments.xsd, Annotations.xsd, CustomTags.xsd), kept as code
rather than shipped as XSD because the published XSD set has known defects (``xs:ID`` for numeric
IDs such as ``Signature/@ID`` and ``MaxSignId``, which no real file satisfies) and because real
files need the tolerant mode:

* strict (GB/T 33190-2016): namespace ``http://www.ofdspec.org/2016``, ``Version="1.0"``,
  ``DocType="OFD"``, element order and every required element and attribute, ``CheckMethod``
  MD5 or SHA1, ST_Loc exactly as written;
* tolerant: Version 1.0/1.1/1.2, DocType OFD/OFD-A, the pre-standard namespace, the SM3 OID or
  name as ``CheckMethod``, out-of-order or missing bookkeeping elements (MaxUnitID, PageArea…),
  backslashes, case differences and root-relative paths — but never a broken reference, a missing
  page, an unreadable part or a path that leaves the package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from lantai.formats.ofd._package import OfdPackage, local_name, tag_of

__all__ = ["DocRef", "PageRef", "Structure", "check_all", "walk"]

TOLERATED_VERSIONS: Final = frozenset({"1.0", "1.1", "1.2"})
TOLERATED_DOC_TYPES: Final = frozenset({"OFD", "OFD-A"})
STRICT_CHECK_METHODS: Final = frozenset({"MD5", "SHA1"})

R_OFD: Final = "GB/T 33190-2016 主入口 OFD.xml"
R_DOC: Final = "GB/T 33190-2016 文档根节点 Document.xml"
R_PAGE: Final = "GB/T 33190-2016 页面 Content.xml"
R_RES: Final = "GB/T 33190-2016 资源文件"
R_SIGN: Final = "GB/T 33190-2016 签名列表与签名描述文件"
R_PARTS: Final = "GB/T 33190-2016 注释、附件与自定义标引"

_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2})?$")
_UINT: Final = re.compile(r"^\d+$")

# (element, minOccurs, maxOccurs or None for unbounded, required even in tolerant mode)
_Spec = tuple[tuple[str, int, int | None, bool], ...]
OFD_CHILDREN: Final[_Spec] = (("DocBody", 1, None, True),)
DOCBODY_CHILDREN: Final[_Spec] = (
    ("DocInfo", 1, 1, False),
    ("DocRoot", 1, 1, True),
    ("Versions", 0, 1, False),
    ("Signatures", 0, 1, False),
)
DOCINFO_CHILDREN: Final[_Spec] = (
    ("DocID", 1, 1, False),
    ("Title", 0, 1, False),
    ("Author", 0, 1, False),
    ("Subject", 0, 1, False),
    ("Abstract", 0, 1, False),
    ("CreationDate", 0, 1, False),
    ("ModDate", 0, 1, False),
    ("DocUsage", 0, 1, False),
    ("Cover", 0, 1, False),
    ("Keywords", 0, 1, False),
    ("Creator", 0, 1, False),
    ("CreatorVersion", 0, 1, False),
    ("CustomDatas", 0, 1, False),
)
DOCUMENT_CHILDREN: Final[_Spec] = (
    ("CommonData", 1, 1, False),
    ("Pages", 1, 1, True),
    ("Outlines", 0, 1, False),
    ("Permissions", 0, 1, False),
    ("Actions", 0, 1, False),
    ("VPreferences", 0, 1, False),
    ("Bookmarks", 0, 1, False),
    ("Annotations", 0, 1, False),
    ("CustomTags", 0, 1, False),
    ("Attachments", 0, 1, False),
    ("Extensions", 0, 1, False),
)
COMMONDATA_CHILDREN: Final[_Spec] = (
    ("MaxUnitID", 1, 1, False),
    ("PageArea", 1, 1, False),
    ("PublicRes", 0, None, False),
    ("DocumentRes", 0, None, False),
    ("TemplatePage", 0, None, False),
    ("DefaultCS", 0, 1, False),
)
PAGE_CHILDREN: Final[_Spec] = (
    ("Template", 0, None, False),
    ("PageRes", 0, None, False),
    ("Area", 0, 1, False),
    ("Content", 0, 1, False),
    ("Actions", 0, 1, False),
)
SIGNATURES_CHILDREN: Final[_Spec] = (("MaxSignId", 0, 1, False), ("Signature", 0, None, False))
SIGNATURE_CHILDREN: Final[_Spec] = (("SignedInfo", 1, 1, True), ("SignedValue", 1, 1, True))
SIGNEDINFO_CHILDREN: Final[_Spec] = (
    ("Provider", 1, 1, False),
    ("SignatureMethod", 0, 1, False),
    ("SignatureDateTime", 0, 1, False),
    ("References", 1, 1, True),
    ("StampAnnot", 0, None, False),
    ("Seal", 0, 1, False),
)


@dataclass(frozen=True, kw_only=True)
class PageRef:
    doc: int  # index of the DocBody
    id: str
    member: str | None  # its Content.xml, None when the reference is broken
    line: int | None


@dataclass(kw_only=True)
class DocRef:
    index: int
    member: str | None  # Document.xml
    signatures: str | None = None  # Signatures.xml
    pages: list[PageRef] = field(default_factory=list)
    templates: dict[str, str] = field(default_factory=dict)  # TemplatePage ID → member
    res: list[str] = field(default_factory=list)
    annotations: str | None = None
    attachments: str | None = None
    custom_tags: str | None = None
    extensions: str | None = None
    max_unit_id: int | None = None
    custom_data: dict[str, str] = field(default_factory=dict)  # DocInfo/CustomDatas


@dataclass(kw_only=True)
class Structure:
    namespace: str = ""
    version: str = ""
    doc_type: str = ""
    docs: list[DocRef] = field(default_factory=list)

    @property
    def pages(self) -> list[PageRef]:
        return [p for d in self.docs for p in d.pages]


def _text(el: etree._Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def check_children(
    pkg: OfdPackage, el: etree._Element, member: str, spec: _Spec, rule: str
) -> dict[str, list[etree._Element]]:
    """Children of ``el`` by local name, with order, cardinality and unknown-element issues."""
    order = {name: i for i, (name, _, _, _) in enumerate(spec)}
    found: dict[str, list[etree._Element]] = {name: [] for name, _, _, _ in spec}
    at = 0
    parent = local_name(el) or tag_of(el)
    for child in el:
        name = local_name(child)
        if name is None:
            if isinstance(child.tag, str):
                pkg.issue(
                    f"<{parent}> 下出现 OFD 命名空间以外的元素 {tag_of(child)}",
                    rule,
                    member=member,
                    line=child.sourceline,
                    strict_only=True,
                )
            continue
        if name not in order:
            pkg.issue(
                f"<{parent}> 下出现未定义的元素 <{name}>",
                rule,
                member=member,
                line=child.sourceline,
                strict_only=True,
            )
            continue
        if order[name] < at:
            pkg.issue(
                f"<{parent}> 的子元素顺序不符合标准：<{name}> 应在 <{spec[at][0]}> 之前",
                rule,
                member=member,
                line=child.sourceline,
                strict_only=True,
            )
        at = max(at, order[name])
        found[name].append(child)
    for name, low, high, hard in spec:
        n = len(found[name])
        if n < low:
            pkg.issue(
                f"<{parent}> 缺少必需的子元素 <{name}>",
                rule,
                member=member,
                line=el.sourceline,
                strict_only=not hard,
            )
        elif high is not None and n > high:
            pkg.issue(
                f"<{parent}> 的子元素 <{name}> 出现 {n} 次（至多 {high} 次）",
                rule,
                member=member,
                line=found[name][high].sourceline,
                strict_only=not hard,
            )
    return found


def walk(pkg: OfdPackage) -> Structure:
    """OFD.xml → every DocBody → its Document.xml and page list (issues recorded on ``pkg``)."""
    st = Structure()
    if not pkg.ok:
        return st
    if not pkg.exists("OFD.xml"):
        pkg.issue("包根目录没有主入口文件 OFD.xml", R_OFD)
        return st
    root = pkg.xml("OFD.xml")
    if root is None:
        return st
    if local_name(root) != "OFD":
        pkg.issue(
            f"OFD.xml 的根元素应为 ofd:OFD，实为 {tag_of(root)}", R_OFD, member="OFD.xml", line=1
        )
        return st
    st.namespace = etree.QName(root).namespace or ""
    st.version = (root.get("Version") or "").strip()
    st.doc_type = (root.get("DocType") or "").strip()
    _check_version(pkg, st)
    bodies = check_children(pkg, root, "OFD.xml", OFD_CHILDREN, R_OFD)["DocBody"]
    for i, body in enumerate(bodies):
        st.docs.append(_doc_body(pkg, i, body))
    return st


def _check_version(pkg: OfdPackage, st: Structure) -> None:
    if not st.version:
        pkg.issue("OFD.xml 缺少 Version 属性", R_OFD, member="OFD.xml")
    elif st.version != "1.0":
        pkg.issue(
            f"Version 为 {st.version}，GB/T 33190-2016 固定为 1.0",
            R_OFD,
            member="OFD.xml",
            value=st.version,
            strict_only=st.version in TOLERATED_VERSIONS,
        )
    if not st.doc_type:
        pkg.issue("OFD.xml 缺少 DocType 属性", R_OFD, member="OFD.xml")
    elif st.doc_type != "OFD":
        pkg.issue(
            f"DocType 为 {st.doc_type}，GB/T 33190-2016 固定为 OFD",
            R_OFD,
            member="OFD.xml",
            value=st.doc_type,
            strict_only=st.doc_type in TOLERATED_DOC_TYPES,
        )


def _doc_body(pkg: OfdPackage, index: int, body: etree._Element) -> DocRef:
    parts = check_children(pkg, body, "OFD.xml", DOCBODY_CHILDREN, R_OFD)
    for info in parts["DocInfo"][:1]:
        _doc_info(pkg, info)
    doc = DocRef(index=index, member=None)
    for info in parts["DocInfo"][:1]:
        for cd in info.iter():
            if local_name(cd) == "CustomData" and cd.get("Name"):
                doc.custom_data.setdefault(cd.get("Name", ""), _text(cd))
    for el in parts["DocRoot"][:1]:
        doc.member = pkg.resolve(el.text, base="OFD.xml", what="DocRoot ", line=el.sourceline)
    for versions in parts["Versions"][:1]:
        for v in versions:
            if local_name(v) == "Version":
                pkg.resolve(
                    v.get("BaseLoc"),
                    base="OFD.xml",
                    what=f"版本 ID={v.get('ID', '')} 的 BaseLoc ",
                    line=v.sourceline,
                )
    for el in parts["Signatures"][:1]:
        doc.signatures = pkg.resolve(
            el.text, base="OFD.xml", what="签名列表 Signatures ", line=el.sourceline
        )
    if doc.member is not None:
        _document(pkg, doc)
    return doc


def _doc_info(pkg: OfdPackage, info: etree._Element) -> None:
    parts = check_children(pkg, info, "OFD.xml", DOCINFO_CHILDREN, R_OFD)
    for name in ("CreationDate", "ModDate"):
        for el in parts[name]:
            if not _DATE.match(_text(el)):
                pkg.issue(
                    f"{name} 应为 xs:date（YYYY-MM-DD）",
                    R_OFD,
                    member="OFD.xml",
                    line=el.sourceline,
                    value=_text(el),
                    strict_only=True,
                )


def _document(pkg: OfdPackage, doc: DocRef) -> None:
    member = doc.member or ""
    root = pkg.xml(member)
    if root is None:
        return
    if local_name(root) != "Document":
        pkg.issue(f"文档根节点应为 ofd:Document，实为 {tag_of(root)}", R_DOC, member=member, line=1)
        return
    parts = check_children(pkg, root, member, DOCUMENT_CHILDREN, R_DOC)
    for common in parts["CommonData"][:1]:
        _common_data(pkg, doc, member, common)
    pages = parts["Pages"][:1]
    page_els = [p for pg in pages for p in pg if local_name(p) == "Page"]
    if pages and not page_els:
        pkg.issue("<Pages> 中没有任何页面 <Page>", R_DOC, member=member, line=pages[0].sourceline)
    seen: set[str] = set()
    for p in page_els:
        pid = (p.get("ID") or "").strip()
        _check_id(pkg, p, member, R_DOC, "Page/@ID")
        if pid and pid in seen:
            pkg.issue(
                f"页面标识 ID={pid} 重复", R_DOC, member=member, line=p.sourceline, strict_only=True
            )
        seen.add(pid)
        target = pkg.resolve(
            p.get("BaseLoc"), base=member, what=f"页面 ID={pid} 的 BaseLoc ", line=p.sourceline
        )
        doc.pages.append(PageRef(doc=doc.index, id=pid, member=target, line=p.sourceline))
    for name in ("Annotations", "CustomTags", "Attachments", "Extensions"):
        for el in parts[name][:1]:
            target = pkg.resolve(el.text, base=member, what=f"{name} ", line=el.sourceline)
            setattr(doc, name.lower() if name != "CustomTags" else "custom_tags", target)


def _common_data(pkg: OfdPackage, doc: DocRef, member: str, common: etree._Element) -> None:
    parts = check_children(pkg, common, member, COMMONDATA_CHILDREN, R_DOC)
    for el in parts["MaxUnitID"][:1]:
        value = _text(el)
        if _UINT.match(value):
            doc.max_unit_id = int(value)
        else:
            pkg.issue(
                "MaxUnitID 应为无符号整数",
                R_DOC,
                member=member,
                line=el.sourceline,
                value=value,
                strict_only=True,
            )
    for area in parts["PageArea"][:1]:
        if not any(local_name(c) == "PhysicalBox" for c in area):
            pkg.issue(
                "PageArea 缺少 PhysicalBox",
                R_DOC,
                member=member,
                line=area.sourceline,
                strict_only=True,
            )
    for name in ("PublicRes", "DocumentRes"):
        for el in parts[name]:
            target = pkg.resolve(el.text, base=member, what=f"{name} ", line=el.sourceline)
            if target is not None:
                doc.res.append(target)
    for el in parts["TemplatePage"]:
        tid = (el.get("ID") or "").strip()
        _check_id(pkg, el, member, R_DOC, "TemplatePage/@ID")
        target = pkg.resolve(
            el.get("BaseLoc"), base=member, what=f"模板页 ID={tid} 的 BaseLoc ", line=el.sourceline
        )
        if target is not None:
            doc.templates[tid] = target


def _check_id(pkg: OfdPackage, el: etree._Element, member: str, rule: str, what: str) -> None:
    value = (el.get("ID") or "").strip()
    if not _UINT.match(value):
        pkg.issue(
            f"{what} 应为无符号整数（ST_ID）",
            rule,
            member=member,
            line=el.sourceline,
            value=value,
            strict_only=bool(value),
        )


# -- everything else the document references ------------------------------------------------


def check_all(pkg: OfdPackage, st: Structure) -> None:
    """Parse and check every part the documents reference (for validation)."""
    for doc in st.docs:
        for res in doc.res:
            _res(pkg, res)
        for tpl in doc.templates.values():
            _page(pkg, tpl, doc, template=True)
        for page in doc.pages:
            if page.member is not None:
                _page(pkg, page.member, doc, template=False)
        if doc.annotations:
            _file_list(pkg, doc.annotations, "Page", "FileLoc", "注释文件")
        if doc.attachments:
            _file_list(pkg, doc.attachments, "Attachment", "FileLoc", "附件")
        if doc.custom_tags:
            _file_list(pkg, doc.custom_tags, "CustomTag", "FileLoc", "自定义标引")
        if doc.signatures:
            _signatures(pkg, doc.signatures)


def _res(pkg: OfdPackage, member: str) -> None:
    root = pkg.xml(member)
    if root is None:
        return
    if local_name(root) != "Res":
        pkg.issue(f"资源文件根元素应为 ofd:Res，实为 {tag_of(root)}", R_RES, member=member, line=1)
        return
    base_loc = root.get("BaseLoc")
    if base_loc is None:
        pkg.issue(
            "资源文件缺少 BaseLoc 属性",
            R_RES,
            member=member,
            line=root.sourceline,
            strict_only=True,
        )
    # Resource files are relative to BaseLoc, itself relative to the resource file's folder.
    folder = member.rsplit("/", 1)[0] + "/" if "/" in member else ""
    base = f"{folder}{(base_loc or '').strip().strip('/')}/_" if base_loc else member
    if base_loc and base_loc.strip().startswith("/"):
        base = f"{base_loc.strip().strip('/')}/_"
    for el in root.iter():
        name = local_name(el)
        if name in ("FontFile", "MediaFile"):
            pkg.resolve(el.text, base=base, what=f"资源 {name} ", line=el.sourceline, at=member)
        elif name == "ColorSpace" and el.get("Profile"):
            pkg.resolve(
                el.get("Profile"), base=base, what="颜色配置文件 ", line=el.sourceline, at=member
            )


def _page(pkg: OfdPackage, member: str, doc: DocRef, *, template: bool) -> None:
    root = pkg.xml(member)
    if root is None:
        return
    if local_name(root) != "Page":
        pkg.issue(f"页面根元素应为 ofd:Page，实为 {tag_of(root)}", R_PAGE, member=member, line=1)
        return
    parts = check_children(pkg, root, member, PAGE_CHILDREN, R_PAGE)
    if not template:
        for el in parts["Template"]:
            tid = (el.get("TemplateID") or "").strip()
            if tid not in doc.templates:
                pkg.issue(
                    f"页面引用的模板页 TemplateID={tid} 在 Document.xml 中未定义",
                    R_PAGE,
                    member=member,
                    line=el.sourceline,
                )
    for el in parts["PageRes"]:
        pkg.resolve(el.text, base=member, what="页面资源 PageRes ", line=el.sourceline)
    for el in root.iter():
        name = local_name(el)
        if name in ("TextObject", "PathObject", "ImageObject", "CompositeObject"):
            box = el.get("Boundary")
            if box is not None and not _box_ok(box):
                pkg.issue(
                    "Boundary 应为 4 个数（x y 宽 高），且宽、高大于 0（ST_Box）",
                    R_PAGE,
                    member=member,
                    line=el.sourceline,
                    value=box,
                    strict_only=True,
                )
        if name == "TextObject":
            for attr in ("Boundary", "Font", "Size", "ID"):
                if el.get(attr) is None:
                    pkg.issue(
                        f"文字对象缺少必需属性 {attr}",
                        R_PAGE,
                        member=member,
                        line=el.sourceline,
                        strict_only=True,
                    )
        elif name in ("ImageObject", "CompositeObject") and el.get("ResourceID") is None:
            pkg.issue(
                f"{name} 缺少必需属性 ResourceID",
                R_PAGE,
                member=member,
                line=el.sourceline,
                strict_only=True,
            )
        if doc.max_unit_id is not None and name is not None:
            oid = (el.get("ID") or "").strip()
            if _UINT.match(oid) and int(oid) > doc.max_unit_id:
                pkg.issue(
                    f"对象标识 ID={oid} 大于 MaxUnitID={doc.max_unit_id}",
                    R_PAGE,
                    member=member,
                    line=el.sourceline,
                    strict_only=True,
                )


def _box_ok(value: str) -> bool:
    try:
        nums = [float(v) for v in value.split()]
    except ValueError:
        return False
    return len(nums) == 4 and nums[2] > 0 and nums[3] > 0


def _file_list(pkg: OfdPackage, member: str, item: str, loc: str, what: str) -> None:
    root = pkg.xml(member)
    if root is None:
        return
    for el in root:
        if local_name(el) != item:
            continue
        locs = [c for c in el if local_name(c) == loc]
        if not locs:
            pkg.issue(f"{what}条目缺少 <{loc}>", R_PARTS, member=member, line=el.sourceline)
        for c in locs:
            pkg.resolve(c.text, base=member, what=f"{what} ", line=c.sourceline)


def _signatures(pkg: OfdPackage, member: str) -> None:
    root = pkg.xml(member)
    if root is None:
        return
    if local_name(root) != "Signatures":
        pkg.issue(f"签名列表根元素应为 ofd:Signatures，实为 {tag_of(root)}", R_SIGN, member=member)
        return
    parts = check_children(pkg, root, member, SIGNATURES_CHILDREN, R_SIGN)
    for el in parts["Signature"]:
        sid = (el.get("ID") or "").strip()
        sig_type = el.get("Type") or "Seal"
        if sig_type not in ("Seal", "Sign"):
            pkg.issue(
                f"签名类型 Type={sig_type} 不是 Seal 或 Sign",
                R_SIGN,
                member=member,
                line=el.sourceline,
                strict_only=True,
            )
        target = pkg.resolve(
            el.get("BaseLoc"), base=member, what=f"签名 ID={sid} 的 BaseLoc ", line=el.sourceline
        )
        if target is not None:
            _signature(pkg, target)


def _signature(pkg: OfdPackage, member: str) -> None:
    root = pkg.xml(member)
    if root is None:
        return
    if local_name(root) != "Signature":
        pkg.issue(
            f"签名描述文件根元素应为 ofd:Signature，实为 {tag_of(root)}", R_SIGN, member=member
        )
        return
    parts = check_children(pkg, root, member, SIGNATURE_CHILDREN, R_SIGN)
    for el in parts["SignedValue"][:1]:
        pkg.resolve(el.text, base=member, what="签名值 SignedValue ", line=el.sourceline)
    for info in parts["SignedInfo"][:1]:
        sub = check_children(pkg, info, member, SIGNEDINFO_CHILDREN, R_SIGN)
        for prov in sub["Provider"][:1]:
            if not prov.get("ProviderName"):
                pkg.issue(
                    "Provider 缺少 ProviderName 属性",
                    R_SIGN,
                    member=member,
                    line=prov.sourceline,
                    strict_only=True,
                )
        for refs in sub["References"][:1]:
            method = refs.get("CheckMethod") or "MD5"
            if method not in STRICT_CHECK_METHODS:
                pkg.issue(
                    f"CheckMethod={method}：GB/T 33190-2016 的 XSD 只允许 MD5、SHA1",
                    R_SIGN,
                    member=member,
                    line=refs.sourceline,
                    value=method,
                    strict_only=True,
                )
            ref_els = [r for r in refs if local_name(r) == "Reference"]
            if not ref_els:
                pkg.issue("签名没有任何 Reference", R_SIGN, member=member, line=refs.sourceline)
            for ref in ref_els:
                pkg.resolve(
                    ref.get("FileRef"), base=member, what="签名保护的文件 ", line=ref.sourceline
                )
        for seal in sub["Seal"][:1]:
            for loc in seal:
                if local_name(loc) == "BaseLoc":
                    pkg.resolve(loc.text, base=member, what="印章文件 ", line=loc.sourceline)
