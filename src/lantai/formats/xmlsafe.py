"""The one way Lantai parses XML it did not write itself.

Every XML entry point (EAD, METS/PREMIS, EEP, OAI-PMH responses, uploads) calls
:func:`parse_file` or :func:`parse_bytes`; nothing else in Lantai constructs an lxml parser for
outside input. The defences, in the order they apply:

1. **Size.** A file larger than ``max_bytes`` is refused before a byte of it is parsed.
2. **Parser options.** lxml/libxml2 with ``resolve_entities=False`` (entity references are never
   replaced by their text), ``load_dtd=False`` and ``no_network=True`` (no DTD, external entity or
   parameter entity is ever loaded, from the network or the disk), ``huge_tree=False`` (libxml2's
   limits on depth, text size and entity amplification stay on), no DTD validation and no
   attribute defaults. The input is parsed from memory, never by file name or URL, and the parser
   carries a resolver that refuses every load, so even a libxml2 change could not make it fetch.
3. **Entity declarations.** A document whose DOCTYPE declares any entity, general or parameter,
   internal or external, is refused (billion laughs, quadratic blow-up, cyclic entities, XXE,
   external DTD subsets pulled in through parameter entities). A DOCTYPE that only *names* an
   external DTD (``<!DOCTYPE ead PUBLIC "…" "ead.dtd">``) is allowed: the DTD is not loaded, so
   the reference is inert.
4. **XInclude and XSLT.** Lantai never processes XInclude or applies stylesheets to input. A
   document containing ``xi:include`` or whose root is an XSLT stylesheet is refused outright, so
   that no later step could be tricked into processing it.

Errors are :class:`XmlRefused` (an :class:`~lantai.errors.InputError`) subclasses whose single
:class:`~lantai.errors.Problem` names the file and, where known, the line::

    InputError
    └── XmlRefused        the XML was not accepted (code ``xml_refused``)
        ├── XmlTooLarge   larger than the size limit
        ├── XmlMalformed  not well-formed XML (libxml2's message and line)
        └── XmlUnsafe     entity declarations, XInclude or an XSLT stylesheet
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Final

from lxml import etree

if TYPE_CHECKING:
    from lxml.etree._docloader import _InputDocument

from lantai.errors import InputError, Problem

__all__ = [
    "DEFAULT_MAX_BYTES",
    "XmlMalformed",
    "XmlRefused",
    "XmlTooLarge",
    "XmlUnsafe",
    "parse_bytes",
    "parse_file",
    "read_bounded",
    "safe_parser",
]

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
RULE: Final = "XML 安全解析"
XINCLUDE_NS: Final = "http://www.w3.org/2001/XInclude"
XSLT_NS: Final = "http://www.w3.org/1999/XSL/Transform"


class XmlRefused(InputError):
    """The XML input was not accepted; nothing was read from it."""

    code = "xml_refused"

    def __init__(self, message: str, *, file: str, row: int | None = None) -> None:
        super().__init__(message, [Problem(message=message, rule=RULE, file=file, row=row)])
        self.file = file
        self.row = row


class XmlTooLarge(XmlRefused):
    """The file is larger than the limit given to the parser."""

    code = "xml_too_large"


class XmlMalformed(XmlRefused):
    """The bytes are not well-formed XML."""

    code = "xml_malformed"


class XmlUnsafe(XmlRefused):
    """The document declares entities, uses XInclude or is an XSLT stylesheet."""

    code = "xml_unsafe"


class _RefuseAll(etree.Resolver):
    """Refuses every external load (DTD, entity, XInclude) the parser might attempt."""

    def resolve(
        self, system_url: str | None, public_id: str | None, context: object
    ) -> _InputDocument | None:
        raise XmlUnsafe(
            f"拒绝加载外部资源「{system_url or public_id or '?'}」（安全解析不访问网络或本地文件）",
            file=system_url or "",
        )


def safe_parser(*, resolver: etree.Resolver | None = None) -> etree.XMLParser:
    """A new parser with Lantai's safe options (parsers are not shared between threads).

    ``resolver`` is for trusted documents shipped with Lantai (the XSDs in
    ``lantai/formats/schemas``); without one, every external load is refused.
    """
    # Do not add collect_ids=False: with it lxml asks the resolver for the external DTD subset
    # (seen with lxml 6.1 / libxml2 2.14), which _RefuseAll would then have to refuse.
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_pis=False,
    )
    parser.resolvers.add(resolver if resolver is not None else _RefuseAll())
    return parser


def read_bounded(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``path``, refusing a file over ``max_bytes`` before reading it."""
    name = path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise XmlTooLarge(_too_large(size, max_bytes), file=name)
        with path.open("rb") as f:
            # read what stat() promised (+1 to notice growth), not max_bytes: read(n) allocates n
            data = f.read(size + 1)
            if len(data) > size:  # grew while we looked: read on, up to the limit
                data += f.read(max_bytes + 1 - len(data))
    except OSError as exc:
        raise XmlRefused(f"无法读取文件：{exc.strerror or exc}", file=name) from exc
    if len(data) > max_bytes:  # grew while we looked
        raise XmlTooLarge(_too_large(len(data), max_bytes), file=name)
    return data


def parse_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._ElementTree:
    """Parse ``path`` safely (see the module docstring). Raises :class:`XmlRefused`."""
    return parse_bytes(read_bounded(path, max_bytes=max_bytes), name=path.name, max_bytes=max_bytes)


def parse_bytes(
    data: bytes, *, name: str, max_bytes: int = DEFAULT_MAX_BYTES
) -> etree._ElementTree:
    """Parse in-memory XML safely; ``name`` is the file name used in error messages."""
    if len(data) > max_bytes:
        raise XmlTooLarge(_too_large(len(data), max_bytes), file=name)
    try:
        tree = etree.parse(io.BytesIO(data), safe_parser())
    except XmlRefused:
        raise
    except etree.XMLSyntaxError as exc:
        entity_line = _entity_declaration_line(data)
        if entity_line is not None:
            raise _entities_refused(name, entity_line) from None
        line = exc.lineno if exc.lineno and exc.lineno > 0 else None
        message = (exc.msg or str(exc)).strip()
        if "Resource limit exceeded" in message or "Huge input lookup" in message:
            raise XmlTooLarge(
                "超过 XML 解析器的资源上限（单个文本节点超过 10 MB、嵌套过深或名称过长），"
                f"拒绝处理：{message}",
                file=name,
                row=line,
            ) from None
        raise XmlMalformed(f"不是格式正确的 XML：{message}", file=name, row=line) from None
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise _entities_refused(name, _entity_declaration_line(data))
    root = tree.getroot()
    if etree.QName(root).namespace == XSLT_NS:
        raise XmlUnsafe(
            "文件是 XSLT 样式表；兰台不执行 XSLT，也不接受样式表作为输入",
            file=name,
            row=root.sourceline,
        )
    inc = next(root.iter(f"{{{XINCLUDE_NS}}}*"), None)
    if inc is not None:
        raise XmlUnsafe(
            "文件含 XInclude 包含指令；兰台不处理 XInclude，请提交完整的单一 XML 文件",
            file=name,
            row=inc.sourceline,
        )
    return tree


def _too_large(size: int, max_bytes: int) -> str:
    return f"文件过大（{size:,} 字节），超过 XML 解析上限 {max_bytes:,} 字节"


def _entities_refused(name: str, line: int | None) -> XmlUnsafe:
    return XmlUnsafe(
        "文档类型声明（DOCTYPE）中定义了实体（ENTITY）。为防范实体扩展攻击（“十亿笑”、二次膨胀）"
        "和外部实体注入（XXE），拒绝处理；请去掉实体声明，直接写出字符或使用字符引用（如 &#x4E2D;）",
        file=name,
        row=line,
    )


def _entity_declaration_line(data: bytes) -> int | None:
    """The line of the first ``<!ENTITY`` in the raw bytes (UTF-8 or UTF-16), if any."""
    for codec in ("utf-8", "utf-16-le", "utf-16-be"):
        marker = "<!ENTITY".encode(codec)
        at = data.find(marker)
        if at >= 0:
            return data.count("\n".encode(codec), 0, at) + 1
    return None
