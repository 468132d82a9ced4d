"""Streaming XML canonicalisation (W3C Canonical XML 2.0, no comments) of one element subtree.

DA/T 48 signs the ``被签名对象`` element of an EEP and its 锁定签名 signs one ``电子签名`` element.
Both can be gigabytes (the base64 content sits inside 被签名对象), so the canonical form is
produced from parser events, piece by piece, and handed to a sink (usually a hash); the
subtree is never held in memory.

:class:`Canonicaliser` takes the events of a parser target (``start_ns``, ``start``, ``data``,
``end``, ``pi``) for the subtree, beginning with the apex element's ``start``. Its output equals
``xml.etree.ElementTree.canonicalize()`` of the subtree with default options (the test suite
checks this): namespace declarations appear where a prefix is first used in the output, then
attributes sorted by namespace URI and local name; text escapes ``& < >`` and CR; attribute
values escape ``& < "`` TAB LF CR; empty elements are written as start-end pairs; comments are
dropped, processing instructions kept.

:func:`escape_text` and :func:`escape_attr` are the canonical escapes, shared with the EEP writer
so that what it writes inside 被签名对象 is already canonical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

__all__ = ["XML_NS", "Canonicaliser", "escape_attr", "escape_text", "split_tag"]

XML_NS = "http://www.w3.org/XML/1998/namespace"

Sink = Callable[[str], None]


def escape_text(text: str) -> str:
    """Canonical escaping of character data."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#xD;")
    return text


def escape_attr(text: str) -> str:
    """Canonical escaping of an attribute value."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\t" in text:
        text = text.replace("\t", "&#x9;")
    if "\n" in text:
        text = text.replace("\n", "&#xA;")
    if "\r" in text:
        text = text.replace("\r", "&#xD;")
    return text


def split_tag(tag: str) -> tuple[str, str]:
    """``"{uri}local"`` → ``("uri", "local")``; ``"local"`` → ``("", "local")``."""
    if tag[:1] == "{":
        uri, local = tag[1:].split("}", 1)
        return uri, local
    return "", tag


class Canonicaliser:
    """Canonical XML of one element subtree, written to ``sink`` as parse events arrive.

    ``in_scope`` are the namespace declarations (prefix → URI) in force at the apex element in
    the source document, declared by its ancestors; declarations on the apex itself arrive as
    ``start_ns`` events before its ``start``, as usual. :attr:`done` turns true at the apex's
    ``end``; feeding more events after that is an error.

    ``declared`` (prefix → URI) are declarations taken as already written by an enclosing output
    element: with ``{"": NS}`` the subtree comes out as it would inside a canonical ancestor
    that declares the default namespace (used to embed one canonical subtree in another).
    """

    def __init__(
        self,
        sink: Sink,
        in_scope: Mapping[str, str] | None = None,
        *,
        declared: Mapping[str, str] | None = None,
    ) -> None:
        self._sink = sink
        # source namespace scopes (prefix → uri), innermost last
        self._source: list[dict[str, str]] = [dict(in_scope or {})]
        self._pending: dict[str, str] = {}
        # output declarations per open element: (uri, prefix), innermost last
        self._declared: list[list[tuple[str, str]]] = [
            [(XML_NS, "xml"), *((u, p) for p, u in (declared or {}).items())]
        ]
        self._names: list[str] = []
        self.done = False

    # -- events ---------------------------------------------------------------------------------

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self._pending[prefix or ""] = uri

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        if self.done:
            raise RuntimeError("canonicaliser already finished")
        self._source.append(self._pending)
        self._pending = {}
        new: list[tuple[str, str]] = []
        self._declared.append(new)
        uri, local = split_tag(tag)
        qnames = {tag: (uri, local)}
        for name in attrib:
            qnames[name] = split_tag(name)
        resolved = {
            name: self._qname(u, lname, new)
            for name, (u, lname) in sorted(qnames.items(), key=lambda kv: kv[1])
        }
        out = ["<", resolved[tag]]
        for u, p in sorted(new, key=lambda d: ("xmlns:" + d[1]) if d[1] else "xmlns"):
            out.append(f' xmlns:{p}="{escape_attr(u)}"' if p else f' xmlns="{escape_attr(u)}"')
        for name in sorted(attrib, key=lambda n: qnames[n]):
            a_uri, a_local = qnames[name]
            out.append(f' {resolved[name] if a_uri else a_local}="{escape_attr(attrib[name])}"')
        out.append(">")
        self._names.append(resolved[tag])
        self._sink("".join(out))

    def data(self, text: str) -> None:
        if self._names and text:
            self._sink(escape_text(text))

    def pi(self, target: str, text: str | None) -> None:
        if self._names:
            self._sink(f"<?{target} {escape_text(text)}?>" if text else f"<?{target}?>")

    def end(self, tag: str) -> None:
        name = self._names.pop()
        self._sink(f"</{name}>")
        self._declared.pop()
        self._source.pop()
        if not self._names:
            self.done = True

    # -- namespaces -----------------------------------------------------------------------------

    def _iter(self, scopes: Iterable[list[tuple[str, str]]]) -> Iterable[tuple[str, str]]:
        for declared in reversed(list(scopes)):
            yield from declared

    def _qname(self, uri: str, local: str, new: list[tuple[str, str]]) -> str:
        seen: set[str] = set()
        for u, prefix in self._iter(self._declared):
            if u == uri and prefix not in seen:
                return f"{prefix}:{local}" if prefix else local
            seen.add(prefix)
        if not uri:
            return local
        for scope in reversed(self._source):
            for prefix, u in scope.items():
                if u == uri:
                    new.append((uri, prefix))
                    return f"{prefix}:{local}" if prefix else local
        raise ValueError(f'namespace "{uri}" is not declared in scope')
