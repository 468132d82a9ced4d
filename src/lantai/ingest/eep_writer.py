"""Write DA/T 48-2009 EEP packages (电子文件封装包), streaming, optionally signed.

Public API:

- :func:`export_record` — the EEP (原始型) of one accepted catalogue 件 with its content files,
  for Chinese interoperability: metadata from the catalogue (DA/T 46 names, ``eep_model``
  mapping), 来源 from the 全宗 and the archive settings, 业务实体 from the given process steps
  plus the export itself. Signed when a :class:`~lantai.ingest.eep_signing.Signer` is given
  (``EepWritten.signature_algorithm`` says with what); unsigned otherwise
  (``signature_algorithm`` is None, and the caller should say so to the user).
- :func:`write_eep` — a 原始型 package from an :class:`~lantai.ingest.eep_model.EepPackage`.
- :func:`write_revision` — a 修改型 package: the original package's 被签名对象 and 电子签名块
  are carried over unchanged (re-serialised canonically, so the original signature still
  verifies) and the revised 文件实体 is added as 修订内容 with identifiers ``修改R-…``.

Every package is validated against ``formats/schemas/eep/eep.xsd`` before it is moved into place;
the validation runs on a skeleton tree built while writing (everything but the base64 data, which
is produced by our own encoder), so nothing is read back. The output is written to a temporary
file next to ``out`` and renamed; on any error nothing is left behind.

Inside 被签名对象 the writer emits canonical XML (C14N 2.0: sorted attributes, start-end pairs,
canonical escapes), so the canonical form that gets signed is exactly the bytes written, hashed
as they are written (only the apex start tag gains its namespace declaration).
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lxml import etree

from lantai.archival import Level
from lantai.errors import Problem, ValidationFailed
from lantai.formats import xsd
from lantai.ingest.c14n import Canonicaliser, escape_attr, escape_text, split_tag
from lantai.ingest.digests import FileHashes
from lantai.ingest.eep_model import (
    DESCRIPTION_ORIGINAL,
    DESCRIPTION_REVISED,
    ELEMENT_PATHS,
    ENCODING_DESCRIPTION,
    EXTRA_NOTE_PREFIX,
    FORMAT_DESCRIPTION,
    NS,
    EepContent,
    EepDocument,
    EepPackage,
    EepSource,
    q,
)
from lantai.ingest.eep_signing import LANTAI_RULE, Signer
from lantai.ingest.transfer import ProcessStep
from lantai.ingest.xmlstream import RefusingTarget, feed_file
from lantai.security import Actor, Perm

if TYPE_CHECKING:
    from lantai.instance import Instance

__all__ = [
    "EepExportFile",
    "EepWritten",
    "WrittenContent",
    "export_record",
    "write_eep",
    "write_revision",
]

_B64_LINE = 57 * 1024  # bytes per base64 piece (a multiple of 3: no padding mid-stream)
_READ = 3 << 18  # 768 KiB, a multiple of 3


@dataclass(frozen=True)
class WrittenContent:
    """One embedded file: its name, size and digests (computed while encoding)."""

    name: str
    size: int
    sha256: str
    sm3: str
    data_id: str  # 编码数据ID


@dataclass(frozen=True)
class EepWritten:
    """What :func:`write_eep` / :func:`export_record` produced."""

    path: Path
    size: int
    sha256: str
    sm3: str
    signed_object_sha256: str  # of the canonical 被签名对象
    signed_object_sm3: str
    signature_algorithm: str | None  # OID in 签名算法标识; None: the package is not signed
    contents: tuple[WrittenContent, ...] = field(default=())


class _Canon:
    """Canonical digests (SHA-256 + SM3) of one element being written."""

    def __init__(self, name: str, depth: int, apex: str) -> None:
        self.name = name
        self.depth = depth
        self.hashes = FileHashes()
        self.hashes.update(apex.encode("utf-8"))


class _Out:
    """Writes canonical-form XML to a file, mirrors it into a skeleton tree and canonical hashes."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.file_hashes = FileHashes()
        self.builder = etree.TreeBuilder()
        self.canon: list[_Canon] = []
        self.stack: list[str] = []
        self.finished: dict[str, _Canon] = {}
        self.revision = 0  # R of the identifiers 修改R-…

    def raw(self, text: str) -> None:
        data = text.encode("utf-8")
        self.fh.write(data)
        self.file_hashes.update(data)
        for c in self.canon:
            c.hashes.update(data)

    def _indent(self) -> None:
        self.raw("\n" + "  " * len(self.stack))
        self.builder.data("\n" + "  " * len(self.stack))

    def start(self, local: str, attrs: Mapping[str, str] | None = None, *, canon: str = "") -> None:
        """Open ``local``; with ``canon`` set, start a canonical digest of this element."""
        if self.stack:
            self._indent()
        attrs = dict(attrs or {})
        parts = "".join(f' {k}="{escape_attr(v)}"' for k, v in sorted(attrs.items()))
        tag = f"<{local}{parts}>"
        if not self.stack:
            tag = f'<{local} xmlns="{NS}"{parts}>'
        if canon:
            # The canonical apex declares the default namespace; in the file it is inherited.
            data = tag.encode("utf-8")
            self.fh.write(data)
            self.file_hashes.update(data)
            for c in self.canon:
                c.hashes.update(data)
            self.canon.append(_Canon(canon, len(self.stack), f'<{local} xmlns="{NS}"{parts}>'))
        else:
            self.raw(tag)
        self.builder.start(q(local), {k: v for k, v in attrs.items()})
        self.stack.append(local)

    def end(self, *, indent: bool = True) -> None:
        local = self.stack.pop()
        if indent:
            self._indent()
        self.raw(f"</{local}>")
        self.builder.end(q(local))
        if self.canon and self.canon[-1].depth == len(self.stack):
            done = self.canon.pop()
            self.finished[done.name] = done

    def leaf(self, local: str, text: str, attrs: Mapping[str, str] | None = None) -> None:
        self.start(local, attrs)
        if text:
            self.raw(escape_text(text))
            self.builder.data(text)
        self.end(indent=False)

    def base64_data(self, local: str, attrs: Mapping[str, str], chunks: Iterator[bytes]) -> None:
        """Write ``local`` holding the base64 of ``chunks`` (RFC 2045 lines of 76 characters)."""
        self.start(local, attrs)
        for piece in _rechunk(chunks, _B64_LINE):
            self.raw("\n" + base64.encodebytes(piece).decode("ascii").rstrip("\n"))
        self.end(indent=False)

    def embed(self, text: str) -> None:
        """Already-canonical XML text whose events are mirrored into the skeleton separately."""
        self.raw(text)


def _rechunk(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def _read_source(source: Path | bytes, hashes: FileHashes) -> Iterator[bytes]:
    if isinstance(source, bytes):
        hashes.update(source)
        yield source
        return
    with source.open("rb") as f:
        while chunk := f.read(_READ):
            hashes.update(chunk)
            yield chunk


# -- the package ----------------------------------------------------------------------------------


def write_eep(out: Path, pkg: EepPackage, *, signer: Signer | None = None) -> EepWritten:
    """Write ``pkg`` as a 原始型 EEP at ``out`` (validated, atomically). See the module docs."""
    return _write(out, lambda w: _signed_object_original(w, pkg), signer=signer)


def write_revision(
    out: Path, original: Path, revised: EepPackage, *, signer: Signer | None = None
) -> EepWritten:
    """Write a 修改型 EEP at ``out``: ``original`` (an EEP file) kept whole, ``revised`` added."""
    return _write(out, lambda w: _signed_object_revision(w, original, revised), signer=signer)


def _write(
    out: Path, body: Callable[[_Out], list[WrittenContent]], *, signer: Signer | None
) -> EepWritten:
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("xb") as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
            w = _Out(fh)
            w.file_hashes.update(b'<?xml version="1.0" encoding="UTF-8"?>\n')
            w.start("电子文件封装包")
            w.leaf("封装包格式描述", FORMAT_DESCRIPTION)
            w.leaf("版本", "2009")
            contents = body(w)
            signed = w.finished["signed"].hashes
            algorithm = None
            if signer is not None:
                _signature_blocks(w, signer, signed, revision=w.revision)
                algorithm = signer.algorithm
            w.end()
            w.raw("\n")
            fh.flush()
            os.fsync(fh.fileno())
        root = w.builder.close()
        problems = xsd.validate(root, "eep", file=out.name)
        if problems:
            raise ValidationFailed("生成的电子文件封装包不符合 DA/T 48 XML Schema", problems)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return EepWritten(
        path=out,
        size=w.file_hashes.size,
        sha256=w.file_hashes.sha256,
        sm3=w.file_hashes.sm3,
        signed_object_sha256=signed.sha256,
        signed_object_sm3=signed.sm3,
        signature_algorithm=algorithm,
        contents=tuple(contents),
    )


def _now() -> str:
    return datetime.now(UTC).astimezone().replace(microsecond=0).isoformat()


def _signed_object_header(w: _Out, *, revised: bool, pkg: EepPackage) -> None:
    w.start("被签名对象", {"eep版本": "2009"}, canon="signed")
    w.leaf("封装包类型", "修改型" if revised else "原始型")
    w.leaf("封装包类型描述", DESCRIPTION_REVISED if revised else DESCRIPTION_ORIGINAL)
    w.leaf("封装包创建时间", pkg.created.replace(microsecond=0).isoformat())
    w.leaf("封装包创建单位", pkg.creator_unit)


def _signed_object_original(w: _Out, pkg: EepPackage) -> list[WrittenContent]:
    _signed_object_header(w, revised=False, pkg=pkg)
    w.start("封装内容")
    contents = _entity_blocks(w, pkg, revision=0)
    w.end()
    w.end()
    return contents


def _entity_blocks(w: _Out, pkg: EepPackage, *, revision: int) -> list[WrittenContent]:
    w.start("文件实体块")
    contents = _file_entity(w, pkg, revision=revision)
    w.end()
    agents = _agents(pkg.process)
    w.start("业务实体块")
    steps = list(pkg.process) or [
        ProcessStep(action="封装", time=pkg.created.isoformat(), agent=pkg.creator_unit)
    ]
    if not pkg.process:
        agents = _agents(steps)
    for n, step in enumerate(steps, start=1):
        w.start("业务实体")
        w.leaf("业务标识符", f"修改{revision}-业务{n}")
        w.leaf("机构人员标识符", f"修改{revision}-机构人员{agents[step.agent]}")
        w.leaf("文件标识符", pkg.key)
        w.leaf("业务状态", pkg.process_status)
        w.leaf("业务行为", step.action)
        w.leaf("行为时间", step.time)
        if step.basis:
            w.leaf("行为依据", step.basis)
        if step.description:
            w.leaf("行为描述", step.description)
        w.end()
    w.end()
    w.start("机构人员实体块")
    for name, n in agents.items():
        w.start("机构人员实体")
        w.leaf("机构人员标识符", f"修改{revision}-机构人员{n}")
        w.leaf("机构人员名称", name)
        w.end()
    w.end()
    return contents


def _agents(steps: Sequence[ProcessStep]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in steps:
        out.setdefault(s.agent, len(out) + 1)
    return out


def _file_entity(w: _Out, pkg: EepPackage, *, revision: int) -> list[WrittenContent]:
    v = {k: val for k, val in pkg.values.items() if val is not None and val != ""}
    w.start("文件实体")
    w.leaf("聚合层次", "文件")
    _source(w, pkg.source, v)
    w.leaf("电子文件号", pkg.key)
    _archival_code(w, pkg, v)
    _description(w, v)
    w.start("形式特征")
    w.leaf("文件组合类型", "组合文件" if len(pkg.documents) > 1 else "单件")
    for key in ("pages", "language", "draft"):
        if key in v:
            w.leaf(ELEMENT_PATHS[key][-1], str(v[key]))
    w.end()
    w.start("存储位置")
    if "location" in v:
        w.leaf("当前位置", str(v["location"]))
    for number in pkg.carrier_numbers or [""]:
        w.leaf("脱机载体编号", number)
    if "microfilm_no" in v:
        w.leaf("缩微号", str(v["microfilm_no"]))
    w.end()
    w.start("权限管理")
    if "open_status" in v:
        w.leaf("控制标识", str(v["open_status"]))
    w.end()
    for system in pkg.information_systems:
        w.leaf("信息系统描述", system)
    if "notes" in v:
        w.leaf("附注", str(v["notes"]))
    for name, value in pkg.extra_elements.items():
        w.leaf("附注", f"{EXTRA_NOTE_PREFIX}{name}：{value}")
    contents = _file_data(w, pkg.documents, revision=revision)
    w.end()
    return contents


def _source(w: _Out, src: EepSource, v: Mapping[str, Any]) -> None:
    w.start("来源")
    if src.archive_name:
        w.leaf("档案馆名称", src.archive_name)
    code = str(v.get("archive_code") or src.archive_code)
    if code:
        w.leaf("档案馆代码", code)
    if src.fonds_name:
        w.leaf("全宗名称", src.fonds_name)
    w.leaf("立档单位名称", src.unit)
    w.end()


def _archival_code(w: _Out, pkg: EepPackage, v: Mapping[str, Any]) -> None:
    w.start("档号")
    if pkg.archival_code:
        w.raw(escape_text(pkg.archival_code))
        w.builder.data(pkg.archival_code)
    if pkg.fonds_code:
        w.leaf("全宗号", pkg.fonds_code)
    year = v.get("year") or str(v.get("date", ""))[:4]
    w.leaf("年度", str(year))
    w.leaf("保管期限", str(v.get("retention", "")))
    if "org_code" in v:
        w.leaf("机构或问题", str(v["org_code"]))
    if "item_no" in v:
        w.leaf("室编件号", str(v["item_no"]))
    w.end()


def _description(w: _Out, v: Mapping[str, Any]) -> None:
    w.start("内容描述")
    order = (
        "title",
        "keywords",
        "persons",
        "abstract",
        "class_number",
        "doc_number",
        "responsible",
        "date",
        "doc_type",
        "urgency",
        "main_recipient",
        "copy_recipient",
    )
    for key in order:
        if key in v or key in ("title", "responsible", "date"):
            w.leaf(ELEMENT_PATHS[key][-1], str(v.get(key, "")))
    level = str(v.get("security_level", ""))
    base, _, term = level.partition("★")
    w.leaf("密级", base)
    if term:
        w.leaf("保密期限", term)
    w.end()


def _file_data(w: _Out, documents: Sequence[EepDocument], *, revision: int) -> list[WrittenContent]:
    written: list[WrittenContent] = []
    w.start("文件数据")
    for i, doc in enumerate(documents, start=1):
        doc_id = f"修改{revision}-文档{i}"
        w.start("文档")
        w.leaf("文档标识符", doc_id)
        w.leaf("文档序号", str(i))
        w.leaf("文档主从声明", "主文档" if doc.main else "附属文档")
        if doc.title:
            w.leaf("题名", doc.title)
        data_id = f"{doc_id}-文档数据1"
        w.start("文档数据", {"文档数据ID": data_id})
        for k, content in enumerate(doc.contents, start=1):
            written.extend(_encoding(w, content, f"{data_id}-编码{k}"))
        w.end()
        w.end()
    w.end()
    return written


def _encoding(w: _Out, c: EepContent, code_id: str) -> list[WrittenContent]:
    hashes = FileHashes()
    size = c.declared_size
    if size is None and c.source is not None:
        size = str(len(c.source) if isinstance(c.source, bytes) else c.source.stat().st_size)
    w.start("编码", {"编码ID": code_id})
    w.start("电子属性")
    if c.format:
        w.leaf("格式信息", c.format)
    w.leaf("计算机文件名", c.name)
    w.leaf("计算机文件大小", size or "")
    if c.creating_app:
        w.leaf("文档创建程序", c.creating_app)
    w.end()
    if c.digitization:
        w.start("数字化属性")
        for name in ("数字化对象形态", "扫描分辨率", "扫描色彩模式", "图像压缩方案"):
            if name in c.digitization:
                w.leaf(name, c.digitization[name])
        w.end()
    w.leaf("编码描述", ENCODING_DESCRIPTION)
    w.leaf("反编码关键字", Path(c.name).suffix.lstrip(".").lower())
    data_id = f"{code_id}-编码数据"
    attrs = {"编码数据ID": data_id}
    if c.ref is not None:
        attrs["引用编码数据ID"] = c.ref
        w.leaf("编码数据", "", attrs)
        w.end()
        return []
    assert c.source is not None
    w.base64_data("编码数据", attrs, _read_source(c.source, hashes))
    w.end()
    return [WrittenContent(c.name, hashes.size, hashes.sha256, hashes.sm3, data_id)]


# -- signatures -----------------------------------------------------------------------------------


def _signature_blocks(w: _Out, signer: Signer, signed: FileHashes, *, revision: int) -> None:
    sig_id = f"修改{revision}-签名1"
    digest = bytes.fromhex(signed.sm3 if signer.digest == "sm3" else signed.sha256)
    w.start("电子签名块")
    w.start("电子签名", canon="signature")
    _signature_fields(w, signer, digest, head=("签名标识符", sig_id))
    w.end()
    w.end()
    locked = w.finished["signature"].hashes
    lock_digest = bytes.fromhex(locked.sm3 if signer.digest == "sm3" else locked.sha256)
    w.start("锁定签名")
    _signature_fields(w, signer, lock_digest, head=("被锁定签名标识符", sig_id))
    w.end()


def _signature_fields(w: _Out, signer: Signer, digest: bytes, *, head: tuple[str, str]) -> None:
    w.leaf(*head)
    w.leaf("签名规则", LANTAI_RULE)
    w.leaf("签名时间", _now())
    w.leaf("签名人", signer.name)
    w.leaf("签名结果", base64.b64encode(signer.sign(digest)).decode("ascii"))
    w.start("证书块")
    for cert in signer.certificates():
        w.leaf("证书", base64.b64encode(cert).decode("ascii"))
    w.end()
    w.leaf("签名算法标识", signer.algorithm)


# -- 修改型 ----------------------------------------------------------------------------------------


class _EmbedTarget(RefusingTarget):
    """Copies the original's top-level 被签名对象 and 电子签名块 into the new package, canonically."""

    def __init__(self, w: _Out) -> None:
        self.w = w
        self.depth = 0
        self.canon: Canonicaliser | None = None
        self.pending: dict[str, str] = {}
        self.found: set[str] = set()
        self.revision = 0
        self._text: list[str] = []
        self._in_rev_id = False

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self.pending[prefix or ""] = uri
        if self.canon is not None:
            self.canon.start_ns(prefix, uri)

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        self.depth += 1
        uri, local = split_tag(tag)
        if (
            self.canon is None
            and self.depth == 2
            and uri == NS
            and local in ("被签名对象", "电子签名块")
        ):
            self.w.builder.data("\n")
            self.w.raw("\n")
            self.canon = Canonicaliser(self.w.embed, {}, declared={"": NS})
            self.found.add(local)
        if self.canon is not None:
            self.canon.start(tag, attrib)
            self.w.builder.start(tag, dict(attrib))
        self._in_rev_id = tag == q("修改标识符")
        self.pending = {}

    def data(self, text: str) -> None:
        if self.canon is not None:
            self.canon.data(text)
            self.w.builder.data(text)
        if self._in_rev_id:
            self._text.append(text)

    def pi(self, target: str, text: str | None) -> None:
        if self.canon is not None:
            self.canon.pi(target, text)

    def end(self, tag: str) -> None:
        if self._in_rev_id:
            ident = "".join(self._text).strip()
            if ident.startswith("修改") and ident[2:].isdigit():
                self.revision = max(self.revision, int(ident[2:]))
            self._text = []
            self._in_rev_id = False
        if self.canon is not None:
            self.canon.end(tag)
            self.w.builder.end(tag)
            if self.canon.done:
                self.canon = None
        self.depth -= 1

    def close(self) -> None:
        return None


def _signed_object_revision(w: _Out, original: Path, revised: EepPackage) -> list[WrittenContent]:
    _signed_object_header(w, revised=True, pkg=revised)
    w.start("修改封装内容")
    # The revision number follows the original's: 1 for a first revision of a 原始型 package.
    probe = _EmbedTarget(_Out(open(os.devnull, "wb")))  # noqa: SIM115 - closed below
    try:
        feed_file(original, probe, name=original.name)
    finally:
        probe.w.fh.close()
    if "被签名对象" not in probe.found:
        raise ValidationFailed(
            "原封装包不是电子文件封装包",
            [Problem(file=original.name, rule="DA/T 48", message="未找到「被签名对象」")],
        )
    revision = probe.revision + 1
    w.revision = revision
    w.leaf("修改标识符", f"修改{revision}")
    w.start("原封装包")
    embed = _EmbedTarget(w)
    feed_file(original, embed, name=original.name)
    w.end()
    w.start("修订内容")
    contents = _entity_blocks(w, revised, revision=revision)
    w.end()
    w.end()
    w.end()
    return contents


# -- export of a catalogue record -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EepExportFile:
    """One content file of the record to embed (正文 first)."""

    path: Path
    name: str  # 计算机文件名
    format: str = ""  # 格式信息 (e.g. the format name with its PUID)
    title: str = ""  # 文档 题名
    main: bool = True


def export_record(
    inst: Instance,
    actor: Actor,
    record_id: int,
    files: Sequence[EepExportFile],
    out: Path,
    *,
    signer: Signer | None = None,
    process: Sequence[ProcessStep] = (),
) -> EepWritten:
    """Export catalogue 件 ``record_id`` and its content ``files`` as a 原始型 EEP at ``out``.

    Raises ValidationFailed when the record is not a 件 or has no content file, and when the
    package would not satisfy the EEP XML Schema. Writes nothing else (no event: exporting is a
    read of the catalogue; the caller records delivery if it sends the package somewhere).
    """
    actor.require(Perm.CATALOGUE_RECORD_READ)
    with inst.db.read() as s:
        rec = inst.catalogue.get(s, actor, record_id)
        fonds = inst.catalogue.fonds_of(s, rec)
        parent = s.get(type(rec), rec.parent_id) if rec.parent_id else None
        values = rec.values()
        rule = inst.catalogue.rule_for(s, rec, parent)
        key, category, code = rec.uid, rec.category, rec.archival_code or ""
        fonds_code, unit = fonds.archival_code or "", fonds.responsible or fonds.title
        fonds_title = fonds.title
        level = rec.level
    if level != Level.ITEM.value:
        raise ValidationFailed(
            "只能把件级条目导出为电子文件封装包",
            [
                Problem(
                    field="层级",
                    value=level,
                    rule="DA/T 48",
                    message="DA/T 48 封装的是文件级（件）",
                )
            ],
        )
    if not files:
        raise ValidationFailed(
            "没有可封装的电子文件",
            [Problem(field="文件数据", rule="DA/T 48", message="电子文件封装包至少要有一个文档")],
        )
    if "item_no" not in values and rule is not None and code:
        parsed = rule.parse(code)
        if parsed is not None:
            values["item_no"] = parsed.counter
    scheme = inst.domain.scheme_for(category)
    retention = values.get("retention")
    if retention:
        values["retention"] = inst.domain.table("retention").label(str(retention))
    extra: dict[str, str] = {}
    for k, val in values.items():
        if k in ELEMENT_PATHS or k in ("archival_code",):
            continue
        el = scheme.element(k)
        if el is not None:
            extra[el.name] = str(val)
    now = datetime.now(UTC).astimezone()
    steps = [
        *process,
        ProcessStep(
            action="封装",
            time=now.replace(microsecond=0).isoformat(),
            agent=inst.settings.archive_name,
            description=f"兰台按 DA/T 48-2009 导出（操作人：{actor.username}）",
        ),
    ]
    pkg = EepPackage(
        key=key,
        values=values,
        documents=[
            EepDocument(
                title=f.title,
                main=f.main,
                contents=[EepContent(name=f.name, source=f.path, format=f.format)],
            )
            for f in files
        ],
        source=EepSource(
            unit=unit,
            archive_name=inst.settings.archive_name,
            archive_code=inst.settings.archive_code,
            fonds_name=fonds_title,
        ),
        creator_unit=inst.settings.archive_name,
        created=now,
        fonds_code=fonds_code,
        archival_code=code,
        extra_elements=extra,
        process=steps,
    )
    return write_eep(out, pkg, signer=signer)
