"""DA/T 48-2009 EEP reader (电子文件封装包), streaming: the XML is read once, in 1 MiB chunks.

One pass over the file does all of this at once (``lantai.ingest.xmlstream`` target parser,
``huge_tree`` off, DOCTYPE refused):

- the package digest (SHA-256 + SM3) of the ``.eep`` as received, and a staged copy of it
  (a hard link when staging is on the same file system, else written from the same read);
- every ``编码数据`` is base64-decoded incrementally into its own staged file, hashed while it is
  written (the decoded bytes are never read back); strict RFC 4648 alphabet, whitespace ignored;
- the canonical digests (C14N 2.0 → SHA-256 + SM3) of every ``被签名对象`` (the package's own
  and, in a 修改型 package, the one kept in 原封装包) and of every ``电子签名`` (what a 锁定签名
  signs), for signature verification without a second read;
- a *skeleton* tree of everything except the base64 text, validated against the DA/T 48 XML
  Schema (``formats/schemas/eep/eep.xsd``) and then mapped to records.

Mapping: each 文件实体 becomes a :class:`~lantai.ingest.transfer.TransferRecord` keyed by
电子文件号; DA/T 46 elements map to Lantai element keys through
:data:`lantai.ingest.eep_model.ELEMENT_PATHS` (``source_names`` keeps the DA/T 46 name); 全宗号 →
``values["fonds_code"]``; 密级 + 保密期限 → ``"秘密★10年"``; the 档号 element's own text → 档号;
``〔著录项〕名称：值`` 附注 entries → the named scheme element. Each file's 电子属性 (计算机文件名,
计算机文件大小, 格式信息, 文档创建程序, plus 文档序号, 文档主从声明, 文档标识符, 数字化属性) goes to
``record.electronic[path]``; 业务实体 → ``record.process`` (agent names from 机构人员实体);
电子签名 / 锁定签名 blocks → ``record.signatures`` as
:meth:`lantai.ingest.eep_signing.SignatureBlock.to_dict` dicts (with the canonical digests).
A 修改型 package yields the revised values over the original's, the files of both layers, and
``Transfer.structure["eep_records"][key]["original_values"]``. Package-level elements
(封装包格式描述, 版本, eep版本, 封装包类型, 封装包类型描述, 封装包创建时间, 封装包创建单位,
修改标识符, and 来源's 立档单位名称 …) go to ``Transfer.structure["eep"]`` under their DA/T 48
names; DA/T 46 elements without a Lantai key under ``structure["eep_records"][key]["elements"]``.

Decoded files are staged as ``<电子文件号>/<计算机文件名>`` (names made safe; on a clash
``<电子文件号>/<编码ID>/<计算机文件名>``).

Public API: :func:`read_eep` (one ``.eep`` → Transfer), :func:`read_eep_file` (the parts, for
EEP sets and bags holding EEPs), :func:`signed_object_bytes` (re-stream the canonical bytes of a
被签名对象 — for verifying a foreign signature rule over the element itself),
:func:`signature_blocks` (the parsed blocks of a record), :func:`is_eep`.
"""

from __future__ import annotations

import binascii
import os
import queue
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from lantai.archival import MetadataScheme
from lantai.errors import InputError, Problem
from lantai.formats import xsd
from lantai.formats.xmlsafe import XmlMalformed, XmlRefused
from lantai.ingest.c14n import Canonicaliser
from lantai.ingest.digests import CHUNK, BackgroundHashes, FileHashes, HashingWriter
from lantai.ingest.eep_model import ELEMENT_PATHS, EXTRA_NOTE_PREFIX, NS, q
from lantai.ingest.eep_signing import SignatureBlock
from lantai.ingest.readers.base import ReadContext, TransferUnreadable, new_uid, note
from lantai.ingest.transfer import (
    DeclaredTotals,
    FileRole,
    ProcessStep,
    SourceKind,
    Transfer,
    TransferFile,
    TransferNote,
    TransferRecord,
)
from lantai.ingest.xmlstream import RefusingTarget, feed_file, stream_parser

__all__ = [
    "EepRead",
    "eep_transfer",
    "is_eep",
    "read_eep",
    "read_eep_file",
    "signature_blocks",
    "signed_object_bytes",
]

MAX_ELEMENTS = 2_000_000  # elements per package (a skeleton bomb guard)
MAX_TEXT = 1 << 20  # characters of one element's text, 编码数据 excepted
MAX_SKELETON_TEXT = 64 << 20  # characters of text in the whole skeleton
PACKAGE_FACTS = ("封装包格式描述", "版本")
SIGNED_FACTS = ("封装包类型", "封装包类型描述", "封装包创建时间", "封装包创建单位")


def is_eep(path: Path) -> bool:
    """Whether ``path`` looks like an EEP: its root element is 电子文件封装包 in the DA/T 48
    namespace (only the first 64 KiB are looked at)."""
    try:
        with path.open("rb") as f:
            head = f.read(65536)
    except OSError:
        return False
    return "电子文件封装包".encode() in head and NS.encode() in head


# -- streaming target -----------------------------------------------------------------------------


class _Base64Sink:
    """Incremental strict base64 decoding into a HashingWriter."""

    def __init__(self, writer: HashingWriter) -> None:
        self.writer = writer
        self.buf = b""
        self.error: str | None = None

    def feed(self, text: str) -> None:
        if self.error is not None:
            return
        try:
            data = text.encode("ascii")
        except UnicodeEncodeError:
            self.error = "编码数据含非 ASCII 字符，不是有效的 Base64"
            return
        buf = self.buf + data.translate(None, b" \t\r\n")
        n = len(buf) // 4 * 4
        if n:
            try:
                out = binascii.a2b_base64(buf[:n], strict_mode=True)
            except binascii.Error as exc:
                self.error = f"编码数据不是有效的 Base64：{exc}"
                return
            self.writer.write(out)
        self.buf = buf[n:]

    def finish(self) -> None:
        if self.error is None and self.buf:
            self.error = "编码数据的 Base64 长度不完整（不是 4 的倍数）"


@dataclass
class _Canon:
    kind: Literal["signed", "signature"]
    canon: Canonicaliser
    hashes: FileHashes | BackgroundHashes  # 被签名对象 (large) is hashed on a worker thread
    element: etree._Element

    def result(self) -> FileHashes:
        return self.hashes.close() if isinstance(self.hashes, BackgroundHashes) else self.hashes


@dataclass
class _Staged:
    path: str
    file: TransferFile | None  # None when the data was bad (and the partial file removed)
    error: str | None = None


class _Target(RefusingTarget):
    def __init__(self, read: _Reader) -> None:
        self.r = read
        self.builder = etree.TreeBuilder()
        self.stack: list[etree._Element] = []
        self.scopes: list[dict[str, str]] = [{}]
        self.pending: dict[str, str] = {}
        self.canons: list[_Canon] = []
        self.digests: dict[etree._Element, tuple[str, str]] = {}  # element → (sha256, sm3)
        self.sink: _Base64Sink | None = None
        self.data_id: str | None = None
        self.elements = 0
        self.text_total = 0
        self.text_here = 0

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self.pending[prefix or ""] = uri
        for c in self.canons:
            c.canon.start_ns(prefix, uri)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise _Abort(f"元素数超过上限 {MAX_ELEMENTS}")
        parent_scope = self.scopes[-1]
        own = self.pending
        self.pending = {}
        self.scopes.append({**parent_scope, **own})
        # lxml's TreeBuilder.start returns the new element (the stubs say None).
        el: etree._Element = getattr(self.builder, "start")(tag, dict(attrib))  # noqa: B009
        if tag in (q("被签名对象"), q("电子签名")):
            hashes: FileHashes | BackgroundHashes = (
                BackgroundHashes() if tag == q("被签名对象") else FileHashes()
            )

            def sink(text: str, h: FileHashes | BackgroundHashes = hashes) -> None:
                h.update(text.encode("utf-8"))

            canon = Canonicaliser(sink, parent_scope)
            for prefix, uri in own.items():
                canon.start_ns(prefix, uri)
            kind: Literal["signed", "signature"] = (
                "signed" if tag == q("被签名对象") else "signature"
            )
            self.canons.append(_Canon(kind, canon, hashes, el))
        for c in self.canons:
            c.canon.start(tag, attrib)
        self.stack.append(el)
        self.text_here = 0
        if tag == q("编码数据") and not attrib.get("引用编码数据ID"):
            self.data_id = attrib.get("编码数据ID") or f"#{self.elements}"
            writer = self.r.open_data(self.stack, self.data_id)
            self.sink = _Base64Sink(writer) if writer is not None else None

    def data(self, text: str) -> None:
        for c in self.canons:
            c.canon.data(text)
        if self.data_id is not None:
            if self.sink is not None:
                self.sink.feed(text)
            return
        self.text_here += len(text)
        self.text_total += len(text)
        if self.text_here > MAX_TEXT:
            raise _Abort(f"元素「{_local(str(self.stack[-1].tag))}」的文本超过 {MAX_TEXT:,} 个字符")
        if self.text_total > MAX_SKELETON_TEXT:
            raise _Abort("元数据文本总量过大")
        self.builder.data(text)

    def pi(self, target: str, text: str | None) -> None:
        for c in self.canons:
            c.canon.pi(target, text)

    def end(self, tag: str) -> None:
        if tag == q("编码数据") and self.data_id is not None:
            if self.sink is not None:
                self.sink.finish()
                self.r.close_data(self.data_id, self.sink)
            self.sink = None
            self.data_id = None
        for c in self.canons:
            c.canon.end(tag)
        while self.canons and self.canons[-1].canon.done:
            done = self.canons.pop()
            hashes = done.result()
            self.digests[done.element] = (hashes.sha256, hashes.sm3)
        self.builder.end(tag)
        self.stack.pop()
        self.scopes.pop()

    def close(self) -> etree._Element | None:
        # lxml also calls close() while it handles an exception raised by a callback: it must
        # not raise then, or the original exception (e.g. the DOCTYPE refusal) would be lost.
        try:
            return self.builder.close()
        except etree.XMLSyntaxError:
            return None


class _Abort(Exception):
    pass


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# -- the reader -----------------------------------------------------------------------------------


@dataclass
class EepRead:
    """What one ``.eep`` file yielded."""

    display: str
    package: FileHashes
    records: list[TransferRecord] = field(default_factory=list)
    files: list[TransferFile] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    record_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    valid: bool = True


class _Reader:
    def __init__(
        self,
        ctx: ReadContext,
        display: str,
        out_dir: Path,
        used: set[str],
        notes: list[TransferNote],
        max_bytes: int,
    ) -> None:
        self.ctx = ctx
        self.display = display
        self.out_dir = out_dir
        self.used = used
        self.notes = notes
        self.staged: dict[str, _Staged] = {}  # 编码数据ID → staged file
        self.writers: dict[str, tuple[HashingWriter, str]] = {}
        self.max_bytes = max_bytes
        self.total = 0

    def open_data(self, stack: list[etree._Element], data_id: str) -> HashingWriter | None:
        encoding = stack[-2] if len(stack) >= 2 else None
        entity = next((e for e in reversed(stack) if e.tag == q("文件实体")), None)
        key = _text(entity.find(q("电子文件号"))) if entity is not None else ""
        name = ""
        if encoding is not None:
            name = _text(encoding.find(f"{q('电子属性')}/{q('计算机文件名')}"))
        code_id = encoding.get("编码ID", "") if encoding is not None else ""
        rel = self._path(key or self.display, name or data_id, code_id)
        local = self.out_dir.joinpath(*rel.split("/"))
        local.parent.mkdir(parents=True, exist_ok=True)
        writer = HashingWriter(local, max_bytes=self.max_bytes - self.total)
        self.writers[data_id] = (writer, rel)
        return writer

    def _path(self, key: str, name: str, code_id: str) -> str:
        base = f"{_safe(key)}/{_safe(name)}"
        if base not in self.used:
            self.used.add(base)
            return base
        alt = f"{_safe(key)}/{_safe(code_id or 'data')}/{_safe(name)}"
        n = 1
        while alt in self.used:
            n += 1
            alt = f"{_safe(key)}/{_safe(code_id or 'data')}-{n}/{_safe(name)}"
        self.used.add(alt)
        return alt

    def close_data(self, data_id: str, sink: _Base64Sink) -> None:
        writer, rel = self.writers.pop(data_id)
        writer.close()
        if sink.error is None and writer.size == 0:
            sink.error = "编码数据为空（既无数据，也未引用其他编码数据）"
        if sink.error is not None:
            writer.path.unlink(missing_ok=True)
            self.staged[data_id] = _Staged(rel, None, sink.error)
            return
        self.total += writer.size
        tf = TransferFile(
            path=rel,
            local=writer.path,
            size=writer.size,
            role=FileRole.CONTENT,
            sha256=writer.hashes.sha256,
            sm3=writer.hashes.sm3,
        )
        self.staged[data_id] = _Staged(rel, tf)

    def abort(self) -> None:
        for writer, _ in self.writers.values():
            writer.close()
            writer.path.unlink(missing_ok=True)
        for s in self.staged.values():
            if s.file is not None:
                s.file.local.unlink(missing_ok=True)


def read_eep_file(
    ctx: ReadContext,
    path: Path,
    *,
    display: str,
    out_dir: Path,
    used_paths: set[str],
    copy_to: Path | None = None,
    max_bytes: int | None = None,
) -> EepRead:
    """Parse one ``.eep``: stage its data under ``out_dir``, map its records (see module docs).

    ``copy_to``: also write the package bytes there from the same read. Raises ``XmlRefused``
    (malformed, DOCTYPE) or :class:`TransferUnreadable`; on error nothing it staged is left.
    """
    notes = ctx.notes
    limit = max_bytes if max_bytes is not None else ctx.inst.settings.ingest_max_package_mb << 20
    reader = _Reader(ctx, display, out_dir, used_paths, notes, limit)
    target = _Target(reader)
    package = BackgroundHashes()
    tee: list[Callable[[bytes], None]] = [package.update]
    if ctx.progress is not None:
        report = ctx.progress
        tee.append(lambda chunk: report(len(chunk)))
    copy = HashingWriter(copy_to) if copy_to is not None else None
    if copy is not None:
        tee.append(copy.write)
    try:
        try:
            root = feed_file(path, target, name=display, tee=tee)
        except _Abort as exc:
            raise TransferUnreadable(
                f"电子文件封装包「{display}」无法读取：{exc}",
                [Problem(file=display, rule="DA/T 48-2009", message=str(exc))],
            ) from None
        except OverflowError:
            raise TransferUnreadable(
                f"电子文件封装包「{display}」解码后的数据超过上限",
                [Problem(file=display, rule="压缩炸弹防护", message="解码后总大小超过上限")],
            ) from None
        if copy is not None:
            copy.close()
        if root is None:
            raise XmlMalformed("不是格式正确的 XML：没有根元素", file=display)
        if root.tag != q("电子文件封装包"):
            raise TransferUnreadable(
                f"「{display}」不是电子文件封装包（根元素是「{_local(str(root.tag))}」）",
                [
                    Problem(
                        file=display, rule="DA/T 48-2009", message="根元素应为「电子文件封装包」"
                    )
                ],
            )
    except BaseException:
        reader.abort()
        package.close()
        for c in target.canons:
            c.result()
        if copy is not None:
            copy.close()
            copy.path.unlink(missing_ok=True)
        raise
    result = EepRead(display=display, package=package.close())
    problems = xsd.validate(root, "eep", file=display)
    for p in problems[:20]:
        notes.append(note("GD-3-1", f"不符合 DA/T 48 XML Schema：{p.message}", file=display))
    if len(problems) > 20:
        notes.append(note("GD-3-1", f"另有 {len(problems) - 20} 处不符合 XML Schema", file=display))
    result.valid = not problems
    _map(ctx, root, target, reader, result)
    return result


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return "".join(el.itertext()).strip()


def _own_text(el: etree._Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _safe(name: str) -> str:
    s = unicodedata.normalize("NFC", name).strip()
    s = "".join("_" if (c in "/\\" or ord(c) < 32 or ord(c) == 127) else c for c in s)
    if s in ("", ".", ".."):
        s = "_"
    return s[:200]


# -- mapping ------------------------------------------------------------------------------------


def _map(
    ctx: ReadContext, root: etree._Element, target: _Target, reader: _Reader, out: EepRead
) -> None:
    facts = out.facts
    for name in PACKAGE_FACTS:
        el = root.find(q(name))
        facts[name] = _text(el) if el is not None else None
    so = root.find(q("被签名对象"))
    if so is None:
        out.records = []
        return
    facts["eep版本"] = so.get("eep版本")
    for name in SIGNED_FACTS:
        el = so.find(q(name))
        facts[name] = _text(el) if el is not None else None
    layers = _layers(so)
    facts["修改标识符"] = [_text(m.find(q("修改标识符"))) for m, _ in layers if m is not None]
    signatures = _signatures(root, so, target, out.display, layer="current")
    # layers: innermost original first … the current revision last
    merged: dict[str, TransferRecord] = {}
    for depth, (_mod, blocks) in enumerate(reversed(layers)):
        layer_name = "current" if depth == len(layers) - 1 else "original"
        for rec, extras in _records(ctx, blocks, reader, out.display, layer_name):
            prior = merged.get(rec.key)
            record_facts = out.record_facts.setdefault(rec.key, {"elements": {}})
            if prior is None:
                merged[rec.key] = rec
                record_facts["elements"].update(extras)
                continue
            record_facts.setdefault("original_values", dict(prior.values))
            prior.values.update(rec.values)
            prior.source_names.update(rec.source_names)
            prior.files = list(dict.fromkeys([*rec.files, *prior.files]))
            prior.electronic.update(rec.electronic)
            prior.process.extend(rec.process)
            prior.location = rec.location
            record_facts["elements"].update(extras)
    # signatures kept in 原封装包 layers
    for mod, _ in layers:
        if mod is None:
            continue
        orig = mod.find(q("原封装包"))
        if orig is not None:
            signatures.extend(
                _signatures(orig, orig.find(q("被签名对象")), target, out.display, layer="original")
            )
    unit = root.find(f".//{q('来源')}/{q('立档单位名称')}")
    facts["立档单位名称"] = _text(unit) if unit is not None else None
    fonds = root.find(f".//{q('档号')}/{q('全宗号')}")
    facts["全宗号"] = _text(fonds) if fonds is not None else None
    for rec in merged.values():
        rec.signatures = [b.to_dict() for b in signatures]
    out.records = list(merged.values())
    for s in reader.staged.values():
        if s.file is not None:
            out.files.append(s.file)
        else:
            code = "GD-2-7" if s.error and "为空" in s.error else "GD-3-1"
            reader.notes.append(note(code, f"{s.error}（{s.path}）", file=out.display))


def _layers(so: etree._Element) -> list[tuple[etree._Element | None, etree._Element]]:
    """(修改封装内容 or None, the element holding 文件实体块/业务实体块/机构人员实体块) per layer,
    outermost (current) first."""
    out: list[tuple[etree._Element | None, etree._Element]] = []
    current: etree._Element | None = so
    while current is not None:
        content = current.find(q("封装内容"))
        if content is not None:
            out.append((None, content))
            break
        mod = current.find(q("修改封装内容"))
        if mod is None:
            break
        revision = mod.find(q("修订内容"))
        if revision is not None:
            out.append((mod, revision))
        orig = mod.find(q("原封装包"))
        current = orig.find(q("被签名对象")) if orig is not None else None
    return out


def _records(
    ctx: ReadContext, blocks: etree._Element, reader: _Reader, display: str, layer: str
) -> Iterator[tuple[TransferRecord, dict[str, str]]]:
    agents = {
        _text(a.find(q("机构人员标识符"))): _text(a.find(q("机构人员名称")))
        for a in blocks.iterfind(f"{q('机构人员实体块')}/{q('机构人员实体')}")
    }
    steps = list(blocks.iterfind(f"{q('业务实体块')}/{q('业务实体')}"))
    entities = list(blocks.iterfind(f"{q('文件实体块')}/{q('文件实体')}"))
    for n, entity in enumerate(entities, start=1):
        key = _text(entity.find(q("电子文件号"))) or f"{display}#{n}"
        rec, extras = _record(ctx, entity, key, reader, display)
        for step in steps:
            target = _text(step.find(q("文件标识符")))
            if target and target != key and len(entities) > 1:
                continue
            agent_id = _text(step.find(q("机构人员标识符")))
            rec.process.append(
                ProcessStep(
                    action=_text(step.find(q("业务行为"))),
                    time=_text(step.find(q("行为时间"))),
                    agent=agents.get(agent_id) or agent_id,
                    basis=_text(step.find(q("行为依据"))),
                    description=_text(step.find(q("行为描述"))),
                )
            )
        yield rec, extras


def _scheme(ctx: ReadContext) -> MetadataScheme:
    return ctx.inst.domain.scheme_for(
        ctx.inst.domain.table("category").normalize(ctx.category) if ctx.category else None
    )


def _record(
    ctx: ReadContext, entity: etree._Element, key: str, reader: _Reader, display: str
) -> tuple[TransferRecord, dict[str, str]]:
    rec = TransferRecord(key=key, location=f"{display} 文件实体（电子文件号 {key}）")
    mapped: set[etree._Element] = set()
    for k, path in ELEMENT_PATHS.items():
        if k in ("notes", "security_level", "keywords", "item_no"):
            continue
        el = entity.find("/".join(q(p) for p in path))
        if el is None:
            continue
        mapped.add(el)
        value = _text(el)
        if value:
            rec.values[k] = value
            rec.source_names[k] = path[-1]
    code = entity.find(q("档号"))
    if code is not None:
        text = _own_text(code)
        if text:
            rec.values["archival_code"] = text
            rec.source_names["archival_code"] = "档号"
        fonds = code.find(q("全宗号"))
        if fonds is not None and _text(fonds):
            rec.values["fonds_code"] = _text(fonds)
            mapped.add(fonds)
        for name in ("室编件号", "馆编件号"):
            el = code.find(q(name))
            if el is not None and _text(el) and "item_no" not in rec.values:
                rec.values["item_no"] = _text(el)
                rec.source_names["item_no"] = name
                mapped.add(el)
    desc = entity.find(q("内容描述"))
    if desc is not None:
        level, term = desc.find(q("密级")), desc.find(q("保密期限"))
        if level is not None and _text(level):
            value = _text(level)
            if term is not None and _text(term):
                value = f"{value}★{_text(term)}"
                mapped.add(term)
            rec.values["security_level"] = value
            rec.source_names["security_level"] = "密级"
            mapped.add(level)
        words = [_text(e) for e in desc.iterfind(q("主题词")) if _text(e)]
        kw = desc.find(q("关键词"))
        if kw is not None and _text(kw):
            words.append(_text(kw))
            mapped.add(kw)
        mapped.update(desc.iterfind(q("主题词")))
        if words:
            rec.values["keywords"] = "；".join(dict.fromkeys(words))
            rec.source_names["keywords"] = "关键词" if kw is not None else "主题词"
    scheme = _scheme(ctx)
    plain: list[str] = []
    for el in entity.iterfind(q("附注")):
        mapped.add(el)
        text = _text(el)
        if text.startswith(EXTRA_NOTE_PREFIX):
            name, sep, value = text[len(EXTRA_NOTE_PREFIX) :].partition("：")
            element = scheme.element_by_name(name.strip()) if sep else None
            if element is not None and element.key not in rec.values:
                rec.values[element.key] = value.strip()
                rec.source_names[element.key] = f"附注（{name.strip()}）"
                continue
        if text:
            plain.append(text)
    if plain:
        rec.values["notes"] = "\n".join(plain)
        rec.source_names["notes"] = "附注"
    extras: dict[str, str] = {}
    for el in entity.iter():
        if el is entity or len(el) or el in mapped or not isinstance(el.tag, str):
            continue
        if el.tag in (q("电子文件号"), q("聚合层次")) or _inside(el, q("文件数据")):
            continue
        value = _text(el)
        if value:
            extras["/".join(_local(str(a.tag)) for a in _path_to(entity, el))] = value
    _files(entity, rec, reader, display)
    return rec, extras


def _inside(el: etree._Element, tag: str) -> bool:
    return any(a.tag == tag for a in el.iterancestors())


def _path_to(entity: etree._Element, el: etree._Element) -> list[etree._Element]:
    chain = [el]
    for a in el.iterancestors():
        if a is entity:
            break
        chain.append(a)
    return list(reversed(chain))


def _files(entity: etree._Element, rec: TransferRecord, reader: _Reader, display: str) -> None:
    docs = list(entity.iterfind(f"{q('文件数据')}/{q('文档')}"))

    def order(doc: etree._Element) -> tuple[int, int, int]:
        main = _text(doc.find(q("文档主从声明"))) != "附属文档"
        seq = _text(doc.find(q("文档序号")))
        return (0 if main else 1, int(seq) if seq.isdigit() else 10**9, docs.index(doc))

    for doc in sorted(docs, key=order):
        for code in doc.iterfind(f"{q('文档数据')}/{q('编码')}"):
            data = code.find(q("编码数据"))
            prop = code.find(q("电子属性"))
            name = _text(prop.find(q("计算机文件名"))) if prop is not None else ""
            ref = data.get("引用编码数据ID") if data is not None else None
            data_id = (data.get("编码数据ID") if data is not None else None) or ""
            staged = reader.staged.get(ref or data_id)
            if staged is not None:
                path = staged.path  # a bad or empty one was noted when it was decoded
            else:
                path = f"{_safe(rec.key)}/{_safe(name or data_id or 'data')}"
                what = f"引用的编码数据「{ref}」" if ref else "编码数据"
                reader.notes.append(
                    note(
                        "GD-2-7",
                        f"文件实体「{rec.key}」的编码「{code.get('编码ID', '')}」（{name}）没有{what}，电子文件缺失",
                        file=display,
                    )
                )
            electronic: dict[str, Any] = {}
            if prop is not None:
                for child in prop:
                    if isinstance(child.tag, str) and _text(child):
                        electronic[_local(child.tag)] = _text(child)
            digitized = code.find(q("数字化属性"))
            if digitized is not None:
                electronic["数字化属性"] = {
                    _local(c.tag): _text(c) for c in digitized if isinstance(c.tag, str)
                }
            for name_ in ("文档序号", "文档主从声明", "文档标识符", "题名"):
                value = _text(doc.find(q(name_)))
                if value:
                    electronic[name_ if name_ != "题名" else "文档题名"] = value
            if path not in rec.files:
                rec.files.append(path)
            rec.electronic[path] = electronic
            if staged is not None and staged.file is not None and staged.file.record_key is None:
                staged.file.record_key = rec.key


def _signatures(
    holder: etree._Element,
    signed: etree._Element | None,
    target: _Target,
    display: str,
    *,
    layer: str,
) -> list[SignatureBlock]:
    out: list[SignatureBlock] = []
    digest = target.digests.get(signed) if signed is not None else None
    by_id: dict[str, tuple[str, str]] = {}
    block = holder.find(q("电子签名块"))
    if block is not None:
        for sig in block.iterfind(q("电子签名")):
            sig_id = _text(sig.find(q("签名标识符")))
            if sig in target.digests:
                by_id[sig_id] = target.digests[sig]
            out.append(_block(sig, "signature", layer, sig_id, digest, display))
    for lock in holder.iterfind(q("锁定签名")):
        locked = _text(lock.find(q("被锁定签名标识符")))
        out.append(_block(lock, "lock", layer, locked, by_id.get(locked), display))
    return out


def _block(
    el: etree._Element,
    kind: Literal["signature", "lock"],
    layer: str,
    ident: str,
    digest: tuple[str, str] | None,
    display: str,
) -> SignatureBlock:
    import base64

    def b64(text: str) -> bytes:
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            return b""

    return SignatureBlock(
        kind=kind,
        layer=layer,
        id=ident,
        rule=_text(el.find(q("签名规则"))),
        algorithm=_text(el.find(q("签名算法标识"))),
        value=b64(_text(el.find(q("签名结果")))),
        certificates=tuple(b64(_text(c)) for c in el.iterfind(f"{q('证书块')}/{q('证书')}")),
        certificate_refs=tuple(
            _text(c) for c in el.iterfind(f"{q('证书块')}/{q('证书引证')}") if _text(c)
        ),
        time=_text(el.find(q("签名时间"))),
        signer=_text(el.find(q("签名人"))),
        signed_sha256=digest[0] if digest else None,
        signed_sm3=digest[1] if digest else None,
        location=f"{display} {'锁定签名' if kind == 'lock' else '电子签名'} {ident}",
    )


def signature_blocks(record: TransferRecord) -> list[SignatureBlock]:
    """The EEP signature blocks a reader kept for ``record``."""
    return [SignatureBlock.from_dict(d) for d in record.signatures]


# -- single-EEP transfer --------------------------------------------------------------------------


def read_eep(
    ctx: ReadContext, path: Path, *, uid: str | None = None, source_name: str = ""
) -> Transfer:
    """One ``.eep`` file → a Transfer (decoded files staged under ``staging/payload``)."""
    display = source_name or path.name
    payload = ctx.staging / "payload"
    source_dir = ctx.staging / "source"
    payload.mkdir(parents=True, exist_ok=True)
    source_dir.mkdir(parents=True, exist_ok=True)
    staged_source = source_dir / _safe(display)
    copy_to: Path | None = None
    try:
        os.link(path, staged_source)
    except OSError:
        copy_to = staged_source
    try:
        result = read_eep_file(
            ctx, path, display=display, out_dir=payload, used_paths=set(), copy_to=copy_to
        )
    except (InputError, XmlRefused):
        staged_source.unlink(missing_ok=True)
        raise
    return eep_transfer(
        ctx, [result], [staged_source], uid=uid, source_name=display, kind=SourceKind.EEP
    )


def eep_transfer(
    ctx: ReadContext,
    results: list[EepRead],
    sources: list[Path],
    *,
    uid: str | None,
    source_name: str,
    kind: SourceKind,
    extra_files: list[TransferFile] | None = None,
) -> Transfer:
    files: list[TransferFile] = []
    for result, source in zip(results, sources, strict=True):
        files.append(
            TransferFile(
                path=result.display,
                local=source,
                size=result.package.size,
                role=FileRole.METADATA,
                sha256=result.package.sha256,
                sm3=result.package.sm3,
            )
        )
        files.extend(result.files)
    files.extend(extra_files or [])
    records = [r for result in results for r in result.records]
    first = results[0] if results else None
    structure: dict[str, Any] = {
        "eep": dict(first.facts) if first else {},
        "eep_packages": {r.display: r.facts for r in results},
        "eep_records": {k: v for r in results for k, v in r.record_facts.items()},
    }
    single = kind is SourceKind.EEP and first is not None
    return Transfer(
        uid=uid or new_uid(),
        kind=kind,
        source_name=source_name,
        staging=ctx.staging,
        payload_root=ctx.staging / "payload",
        files=files,
        records=records,
        declared=DeclaredTotals(),
        fonds_code=ctx.fonds_code,
        category=ctx.category,
        package_sha256=first.package.sha256 if single and first else None,
        package_sm3=first.package.sm3 if single and first else None,
        package_size=first.package.size if single and first else None,
        structure=structure,
        notes=ctx.notes,
    )


# -- canonical bytes, again -----------------------------------------------------------------------


class _Rechunk(RefusingTarget):
    def __init__(self, layer: int, out: queue.SimpleQueue[bytes]) -> None:
        self.layer = layer
        self.out = out
        self.depth_signed = 0
        self.canon: Canonicaliser | None = None
        self.scopes: list[dict[str, str]] = [{}]
        self.pending: dict[str, str] = {}

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self.pending[prefix or ""] = uri
        if self.canon is not None:
            self.canon.start_ns(prefix, uri)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        parent = self.scopes[-1]
        own, self.pending = self.pending, {}
        self.scopes.append({**parent, **own})
        if tag == q("被签名对象"):
            if self.canon is None and self.depth_signed == self.layer:
                self.canon = Canonicaliser(lambda t: self.out.put(t.encode("utf-8")), parent)
                for p, u in own.items():
                    self.canon.start_ns(p, u)
            self.depth_signed += 1
        if self.canon is not None and not self.canon.done:
            self.canon.start(tag, attrib)

    def data(self, text: str) -> None:
        if self.canon is not None and not self.canon.done:
            self.canon.data(text)

    def pi(self, target: str, text: str | None) -> None:
        if self.canon is not None and not self.canon.done:
            self.canon.pi(target, text)

    def end(self, tag: str) -> None:
        if self.canon is not None and not self.canon.done:
            self.canon.end(tag)
        self.scopes.pop()

    def close(self) -> None:
        return None


def signed_object_bytes(
    path: Path, *, layer: Literal["current", "original"] = "current"
) -> Iterator[bytes]:
    """The canonical (C14N 2.0) bytes of a 被签名对象 of the EEP at ``path``, streamed.

    ``layer="original"`` is the 被签名对象 kept in a 修改型 package's 原封装包. This reads the file
    again; the digests of these bytes were already computed by the reader (see the module docs).
    """
    out: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    target = _Rechunk(0 if layer == "current" else 1, out)
    parser = stream_parser(target)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            parser.feed(chunk)
            while not out.empty():
                yield out.get()
    parser.close()
    while not out.empty():
        yield out.get()
