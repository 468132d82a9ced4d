"""An opened OFD container: safe member table, bounded reads, ST_Loc resolution, issues.

Every read of a member goes through :class:`OfdPackage`: member names that are absolute, contain
``..``, a drive letter or NUL are never used; duplicate names and encrypted members are reported;
XML members are read with a size cap and parsed by :mod:`lantai.formats.xmlsafe`; large members are
only ever streamed (digests). ST_Loc values are resolved the GB/T 33190 way (absolute from the
package root, otherwise relative to the XML file that holds them) and may never leave the package.
Deviations the tolerant mode accepts (backslashes, root-relative paths written without ``/``, case
differences, the pre-standard namespace) are recorded as *strict-only* issues.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Final
from urllib.parse import unquote

from lxml import etree

from lantai.errors import Problem
from lantai.formats.xmlsafe import XmlRefused, parse_bytes

__all__ = [
    "LEGACY_NAMESPACE",
    "MAX_MEMBERS",
    "MAX_XML_BYTES",
    "OFD_NAMESPACE",
    "Issue",
    "MemberUnreadable",
    "OfdPackage",
    "OfdSniff",
    "local_name",
    "sniff_ofd",
    "tag_of",
]

OFD_NAMESPACE: Final = "http://www.ofdspec.org/2016"
LEGACY_NAMESPACE: Final = "http://www.ofdspec.org"  # written by older 数科 (Suwell) producers
OFD_NAMESPACES: Final = frozenset({OFD_NAMESPACE, LEGACY_NAMESPACE})
MAX_XML_BYTES: Final = 16 * 1024 * 1024  # one XML part of an OFD
MAX_MEMBERS: Final = 100_000
MAX_MEMBER_BYTES: Final = 4 * 1024 * 1024 * 1024  # a resource streamed for its digest
MAX_RATIO: Final = 1000  # uncompressed / compressed, above 16 MiB: a zip bomb, not a document
ZIP_MAGIC: Final = b"PK\x03\x04"
CHUNK: Final = 1 << 20
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")

RULE_CONTAINER: Final = "GB/T 33190-2016 容器（ZIP 包结构）"
RULE_LOC: Final = "GB/T 33190-2016 ST_Loc 路径引用"
RULE_NAMESPACE: Final = "GB/T 33190-2016 命名空间"


@dataclass(frozen=True, kw_only=True)
class Issue:
    """One deviation; ``strict_only`` ones are accepted by the tolerant mode."""

    message: str
    rule: str
    member: str = ""
    line: int | None = None
    value: str | None = None
    strict_only: bool = False

    def problem(self, file: str) -> Problem:
        return Problem(
            message=self.message,
            rule=self.rule,
            file=file,
            field=self.member,
            row=self.line,
            value=self.value,
        )


@dataclass(frozen=True, kw_only=True)
class OfdSniff:
    """What identification needs from ``OFD.xml``."""

    namespace: str
    version: str
    doc_type: str


def tag_of(el: etree._Element) -> str:
    """The element's tag as text (for messages)."""
    return el.tag if isinstance(el.tag, str) else repr(el.tag)


def local_name(el: etree._Element) -> str | None:
    """The local name of an OFD element (either namespace); None for anything else."""
    if not isinstance(el.tag, str):
        return None
    q = etree.QName(el)
    return q.localname if q.namespace in OFD_NAMESPACES else None


def sniff_ofd(path: Path) -> OfdSniff | None:
    """OFD.xml's namespace, Version and DocType if ``path`` is an OFD container, else None."""
    with path.open("rb") as f:
        if f.read(4) != ZIP_MAGIC:
            return None
    with zipfile.ZipFile(path) as zf:
        try:
            info = zf.getinfo("OFD.xml")
        except KeyError:
            return None
        if info.file_size > MAX_XML_BYTES or info.flag_bits & 0x1:
            return None
        with zf.open(info) as f:
            data = f.read(MAX_XML_BYTES + 1)
    try:
        root = parse_bytes(data, name="OFD.xml", max_bytes=MAX_XML_BYTES).getroot()
    except XmlRefused:
        return None
    q = etree.QName(root)
    if q.localname != "OFD" or q.namespace not in OFD_NAMESPACES:
        return None
    return OfdSniff(
        namespace=q.namespace or "",
        version=(root.get("Version") or "").strip(),
        doc_type=(root.get("DocType") or "").strip(),
    )


class OfdPackage:
    """An OFD file opened for reading. Use as a context manager; never writes anything.

    ``issues`` collects every deviation met while reading (the container checks run on open).
    A file that is not a readable ZIP leaves ``ok`` False and an empty member table.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.issues: list[Issue] = []
        self.members: dict[str, zipfile.ZipInfo] = {}
        self._lower: dict[str, str] = {}
        self._xml_cache: dict[str, etree._Element | None] = {}
        self._zip: zipfile.ZipFile | None = None
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            self.issue(f"不是可读取的 ZIP 包：{exc}", RULE_CONTAINER)
            return
        self._load_members(self._zip.infolist())

    @property
    def ok(self) -> bool:
        return self._zip is not None

    def __enter__(self) -> OfdPackage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def issue(
        self,
        message: str,
        rule: str,
        *,
        member: str = "",
        line: int | None = None,
        value: str | None = None,
        strict_only: bool = False,
    ) -> None:
        self.issues.append(
            Issue(
                message=message,
                rule=rule,
                member=member,
                line=line,
                value=value,
                strict_only=strict_only,
            )
        )

    def problems(self, *, strict: bool) -> list[Problem]:
        """The issues as Problems (strict: all of them; tolerant: those it does not accept)."""
        seen: set[tuple[str, str, str, int | None]] = set()
        out = []
        for i in self.issues:
            if i.strict_only and not strict:
                continue
            key = (i.message, i.rule, i.member, i.line)
            if key in seen:
                continue
            seen.add(key)
            out.append(i.problem(self.name))
        return out

    # -- members ---------------------------------------------------------------------------

    def _load_members(self, infos: list[zipfile.ZipInfo]) -> None:
        if len(infos) > MAX_MEMBERS:
            self.issue(f"包内条目过多（{len(infos)} 个，上限 {MAX_MEMBERS}）", RULE_CONTAINER)
            infos = infos[:MAX_MEMBERS]
        for info in infos:
            name = info.filename
            if name.endswith("/"):
                continue
            problem = _unsafe_member_name(name)
            if problem:
                self.issue(f"包内条目名不安全：{problem}，已忽略", RULE_CONTAINER, value=name)
                continue
            if name in self.members:
                self.issue("包内存在同名的重复条目", RULE_CONTAINER, member=name)
                continue
            if info.flag_bits & 0x1:
                self.issue("条目已加密，无法读取", RULE_CONTAINER, member=name)
            self.members[name] = info
            self._lower.setdefault(name.casefold(), name)

    def exists(self, member: str) -> bool:
        return member in self.members

    def size(self, member: str) -> int:
        return self.members[member].file_size

    def _readable(self, member: str, limit: int) -> zipfile.ZipInfo | None:
        info = self.members.get(member)
        if info is None or self._zip is None:
            return None
        if info.flag_bits & 0x1:
            return None
        if info.file_size > limit:
            self.issue(
                f"条目过大（{info.file_size:,} 字节，上限 {limit:,}）",
                RULE_CONTAINER,
                member=member,
            )
            return None
        if (
            info.file_size > 16 * 1024 * 1024
            and info.compress_size > 0
            and info.file_size // info.compress_size > MAX_RATIO
        ):
            self.issue(
                f"条目压缩比异常（{info.file_size // info.compress_size}:1），疑似压缩炸弹，未读取",
                RULE_CONTAINER,
                member=member,
            )
            return None
        return info

    def read_bytes(self, member: str, *, limit: int = MAX_XML_BYTES) -> bytes | None:
        """The bytes of a member (at most ``limit``); None with an issue when unreadable."""
        info = self._readable(member, limit)
        if info is None or self._zip is None:
            return None
        try:
            with self._zip.open(info) as f:
                return f.read(limit + 1)[:limit]
        except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError) as exc:
            self.issue(f"条目无法解压：{exc}", RULE_CONTAINER, member=member)
            return None

    def stream(self, member: str) -> Iterator[bytes] | None:
        """The bytes of a member in chunks (for digests), or None when unreadable."""
        info = self._readable(member, MAX_MEMBER_BYTES)
        if info is None or self._zip is None:
            return None
        return self._chunks(self._zip.open(info), member)

    def _chunks(self, f: IO[bytes], member: str) -> Iterator[bytes]:
        with f:
            try:
                while chunk := f.read(CHUNK):
                    yield chunk
            except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError) as exc:
                self.issue(f"条目无法解压：{exc}", RULE_CONTAINER, member=member)
                raise MemberUnreadable(member) from exc

    def xml(self, member: str) -> etree._Element | None:
        """The parsed root of an XML member (cached), or None with an issue."""
        if member in self._xml_cache:
            return self._xml_cache[member]
        root: etree._Element | None = None
        data = self.read_bytes(member)
        if data is not None:
            try:
                root = parse_bytes(data, name=member, max_bytes=MAX_XML_BYTES).getroot()
            except XmlRefused as exc:
                for p in exc.problems:
                    self.issue(p.message, p.rule or "XML", member=member, line=p.row)
        if root is not None:
            self._check_namespace(root, member)
        self._xml_cache[member] = root
        return root

    def _check_namespace(self, root: etree._Element, member: str) -> None:
        ns = etree.QName(root).namespace
        if ns == OFD_NAMESPACE:
            return
        if ns == LEGACY_NAMESPACE:
            self.issue(
                f"使用非标准命名空间 {ns}（应为 {OFD_NAMESPACE}）",
                RULE_NAMESPACE,
                member=member,
                line=root.sourceline,
                strict_only=True,
            )
        else:
            self.issue(
                f"根元素不在 OFD 命名空间中（{ns or '无命名空间'}）",
                RULE_NAMESPACE,
                member=member,
                line=root.sourceline,
            )

    # -- ST_Loc ----------------------------------------------------------------------------

    def resolve(
        self,
        loc: str | None,
        *,
        base: str,
        what: str,
        line: int | None = None,
        required: bool = True,
        at: str | None = None,
    ) -> str | None:
        """The member an ST_Loc written in member ``base`` points at, or None (issue recorded).

        Absolute locations start at the package root; relative ones at ``base``'s folder.
        ``at`` is the member named in issues when ``base`` is not a real member (Res BaseLoc).
        """
        where = at or base
        raw = (loc or "").strip()
        if not raw:
            if required:
                self.issue(f"{what}路径为空", RULE_LOC, member=where, line=line)
            return None
        if _SCHEME.match(raw):
            self.issue(
                f"{what}指向包外（URL 或操作系统绝对路径）",
                RULE_LOC,
                member=where,
                line=line,
                value=raw,
            )
            return None
        text = raw
        if "\\" in text:
            text = text.replace("\\", "/")
            self.issue(
                f"{what}路径使用了反斜杠",
                RULE_LOC,
                member=where,
                line=line,
                value=raw,
                strict_only=True,
            )
        if text.startswith("/"):
            joined = text.lstrip("/")
        else:
            joined = posixpath.join(posixpath.dirname(base), text)
        target = _normalise(joined)
        if target is None:
            self.issue(f"{what}路径越出包根目录", RULE_LOC, member=where, line=line, value=raw)
            return None
        if target in self.members:
            return target
        for candidate, why in self._fallbacks(text, target):
            if candidate in self.members:
                self.issue(
                    f"{what}路径{why}",
                    RULE_LOC,
                    member=where,
                    line=line,
                    value=raw,
                    strict_only=True,
                )
                return candidate
        self.issue(
            f"{what}引用的文件不存在：{target}", RULE_LOC, member=where, line=line, value=raw
        )
        return None

    def _fallbacks(self, text: str, target: str) -> Iterator[tuple[str, str]]:
        if not text.startswith("/"):
            root_relative = _normalise(text)
            if root_relative is not None:
                yield root_relative, "未以 / 开头却是相对于包根目录写的"
        decoded = _normalise(unquote(target))
        if decoded is not None and decoded != target:
            yield decoded, "经过了 URL 编码"
        folded = self._lower.get(target.casefold())
        if folded is not None:
            yield folded, "与包内文件名大小写不一致"


class MemberUnreadable(Exception):
    """A member could not be decompressed while streaming (issue already recorded)."""


def _normalise(path: str) -> str | None:
    """``a/./b/../c`` → ``a/c``; None when ``..`` climbs above the root."""
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(part)
    return "/".join(out)


def _unsafe_member_name(name: str) -> str | None:
    if "\x00" in name:
        return "含 NUL 字符"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "绝对路径"
    if any(part == ".." for part in re.split(r"[/\\]", name)):
        return "含 .. 上级目录"
    return None
