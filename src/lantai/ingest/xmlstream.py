"""Streaming XML parsing for packages too large to hold in memory (EEP files with base64 content).

:func:`lantai.formats.xmlsafe.parse_bytes` parses from memory; an EEP can be gigabytes, so the
EEP reader feeds the file in 1 MiB chunks to an lxml *target* parser instead, which hands text to
the target in pieces (a multi-gigabyte base64 element never exists as one string). The parser
has xmlsafe's options — no entity substitution, no DTD or network loads, ``huge_tree`` off — and
additionally refuses any DOCTYPE (an EEP never needs one), so entity-expansion attacks (billion
laughs, quadratic blow-up) and external entities are refused before any entity is declared.
Errors are :mod:`lantai.formats.xmlsafe`'s :class:`XmlMalformed` / :class:`XmlUnsafe`.

Public API: :func:`feed_file` (parse a file into a target, each chunk also handed to ``tee``
callbacks, e.g. a package hash), :class:`RefusingTarget` (a base class whose ``doctype`` refuses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lxml import etree

from lantai.formats.xmlsafe import XmlMalformed, XmlUnsafe

__all__ = ["CHUNK", "RefusingTarget", "feed_file", "stream_parser"]

CHUNK = 1 << 20


class _Refused(Exception):
    """Raised inside the parser by the target; re-raised as XmlUnsafe by feed_file."""


class RefusingTarget:
    """Base parser target: refuses DOCTYPE declarations (and with them every entity)."""

    def doctype(self, name: str | None, pubid: str | None, system: str | None) -> None:
        raise _Refused(name or "")


def stream_parser(target: Any) -> Any:
    """A target parser with Lantai's safe options (see the module docstring)."""
    return etree.XMLParser(
        target=target,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
    )


def feed_file(
    path: Path,
    target: Any,
    *,
    name: str,
    tee: Iterable[Callable[[bytes], None]] = (),
) -> Any:
    """Parse ``path`` into ``target`` chunk by chunk; returns ``target.close()``'s result.

    Every chunk read is also passed to each ``tee`` callback (so the file is read once for
    hashing, copying and parsing). ``name`` is the file name used in error messages.
    """
    parser = stream_parser(target)
    sinks = list(tee)
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                for sink in sinks:
                    sink(chunk)
                parser.feed(chunk)
        return parser.close()
    except _Refused:
        raise XmlUnsafe(
            "XML 文件含文档类型声明（DOCTYPE）。电子文件封装包不需要 DOCTYPE；为防范实体扩展攻击"
            "和外部实体注入（XXE），拒绝处理",
            file=name,
        ) from None
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno and exc.lineno > 0 else None
        message = (exc.msg or str(exc)).strip()
        raise XmlMalformed(f"不是格式正确的 XML：{message}", file=name, row=line) from None
