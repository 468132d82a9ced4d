"""可用性 (usability) checks, DA/T 70 items 3-x of the 归档 (GD) and 移交接收 (YJ) stages.

- GD-3-1 :func:`metadata_readable` — the package's metadata parses (XML by the safe parser)
- GD-3-2 :func:`database_accessible` — the catalogue database answers; target 全宗 and 门类 exist
- GD-3-3 :func:`content_format_acceptable` — long-term format policy, content opens (OFD, PDF,
  images, audio/video), OFD strict/tolerant validation, PDF/A conformance
- GD-3-8 :func:`no_encryption_or_private_compression` — encrypted or password-protected files,
  non-public compression

GD-3-4 … 3-7 are unidentified slots in the catalogue (disabled); whether content opens is part
of 3-3 (DA/T 70 category 3-2: 内容格式符合归档要求，可正常打开浏览).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from sqlalchemy import select, text

from lantai.archival import Level
from lantai.errors import LantaiError
from lantai.formats import XmlRefused, parse_file
from lantai.ingest.checks import _content
from lantai.ingest.checks._core import CheckContext, Finding, Status, check
from lantai.ingest.checks._evidence import code, reader_findings
from lantai.ingest.checks._metadata import category_of
from lantai.ingest.transfer import FileRole
from lantai.store import Record

__all__ = [
    "MAX_XML_RECHECK",
    "content_format_acceptable",
    "database_accessible",
    "metadata_readable",
    "no_encryption_or_private_compression",
]

# Metadata XML up to this size is parsed again here; larger files (an EEP with its content
# inside) were parsed by the reader in its one streaming pass and are not read a second time.
MAX_XML_RECHECK = 16 * 1024 * 1024


@check("GD-3-1", "YJ-3-1")
def metadata_readable(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "3-1")
    t = ctx.transfer
    out = reader_findings(ctx, "3-1")
    parsed = streamed = 0
    for f in t.files:
        # An EEP is read (and schema-validated) by the reader in its one streaming pass; its
        # problems arrive as reader notes above. Other XML metadata is small: parse it again.
        if f.role is not FileRole.METADATA or PurePosixPath(f.path).suffix.lower() != ".xml":
            continue
        if f.size > MAX_XML_RECHECK:
            streamed += 1
            continue
        try:
            parse_file(f.local, max_bytes=MAX_XML_RECHECK)
        except XmlRefused as exc:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message=f"元数据文件无法解析：{exc.message}",
                    file=f.path,
                    found=exc.problems[0].message if exc.problems else None,
                    rule="XML 1.0（安全解析）",
                )
            )
        except OSError as exc:
            out.append(
                Finding(
                    code=c, status=Status.FAILED, message=f"元数据文件无法读取：{exc}", file=f.path
                )
            )
        else:
            parsed += 1
    if not t.records and not any(f.role is FileRole.METADATA for f in t.files):
        if not out:
            out.append(Finding(code=c, status=Status.NOT_APPLICABLE, message="信息包中没有元数据"))
        return out
    if not out:
        parts = [f"{len(t.records)} 条记录的元数据已读出"]
        if parsed:
            parts.append(f"{parsed} 个 XML 元数据文件解析正常")
        if streamed:
            parts.append(f"{streamed} 个大型元数据文件已由读取程序流式解析")
        out.append(Finding(code=c, status=Status.PASSED, message="，".join(parts)))
    return out


@check("GD-3-2", "YJ-3-2")
def database_accessible(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "3-2")
    t = ctx.transfer
    out: list[Finding] = reader_findings(ctx, "3-2")
    try:
        with ctx.inst.db.read() as s:
            s.execute(text("SELECT 1"))
            if t.fonds_code:
                fonds = s.scalar(
                    select(Record).where(
                        Record.archival_code == t.fonds_code, Record.level == Level.FONDS.value
                    )
                )
                if fonds is None:
                    out.append(
                        Finding(
                            code=c,
                            status=Status.FAILED,
                            message=f"目标全宗「{t.fonds_code}」在目录数据库中不存在",
                            field="全宗号",
                            expected="已建立的全宗",
                            found=t.fonds_code,
                        )
                    )
                elif fonds.lifecycle != "active" or fonds.security_rank > ctx.actor.clearance_rank:
                    out.append(
                        Finding(
                            code=c,
                            status=Status.FAILED,
                            message=f"目标全宗「{t.fonds_code}」已撤销或当前用户无权访问",
                            field="全宗号",
                            found=t.fonds_code,
                        )
                    )
    except LantaiError:
        raise
    except Exception as exc:  # the database itself is what this item checks
        return [
            Finding(
                code=c,
                status=Status.FAILED,
                message=f"目录数据库无法访问：{type(exc).__name__}: {exc}",
                found=ctx.inst.db.dialect,
            )
        ]
    if not t.fonds_code:
        out.append(
            Finding(
                code=c,
                status=Status.MANUAL,
                message="未指定目标全宗，入库前须指定",
                field="全宗号",
            )
        )
    category = category_of(ctx)
    if category is None and t.category:
        out.append(
            Finding(
                code=c,
                status=Status.FAILED,
                message=f"目标门类「{t.category}」不是有效的门类代码",
                field="门类",
                expected="、".join(ctx.inst.domain.table("category").codes()),
                found=t.category,
                rule="DA/T 13-2022",
            )
        )
    if not out:
        where = f"全宗 {t.fonds_code}" + (f"、门类 {category}" if category else "")
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"目录数据库（{ctx.inst.db.dialect}）可访问，目标{where}存在",
            )
        )
    return out


@check("GD-3-3", "YJ-3-3")
def content_format_acceptable(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "3-3")
    files = ctx.transfer.content_files()
    if not files:
        return [Finding(code=c, status=Status.NOT_APPLICABLE, message="信息包中没有内容文件")]
    out: list[Finding] = reader_findings(ctx, "3-3")
    opened = long_term = 0
    strict_only = 0
    for f in files:
        if f.size == 0:
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL,
                    message="空文件（0 字节）没有可判定的格式，须人工确认",
                    file=f.path,
                    field="格式",
                    found="0 字节",
                    record=f.record_key or "",
                )
            )
            continue
        verdict = _content.policy_verdict(ctx, f)
        if verdict.status is not Status.PASSED:
            out.append(
                Finding(
                    code=c,
                    status=verdict.status,
                    message=verdict.message,
                    file=f.path,
                    field="格式",
                    expected=verdict.expected,
                    found=verdict.found,
                    rule=verdict.rule,
                    record=f.record_key or "",
                )
            )
        else:
            long_term += 1
        found = _content.inspection(ctx, f)
        if found.opens is False:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message="文件不能正常打开：" + "；".join(found.problems[:5]),
                    file=f.path,
                    field="内容数据",
                    expected="能正常打开浏览",
                    found=_kind_label(found.kind) + "解析失败",
                    rule=_open_rule(found.kind),
                    record=f.record_key or "",
                )
            )
            continue
        if found.opens is None and found.kind != "other":
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL,
                    message=f"无法自动检查该{_kind_label(found.kind)}文件能否打开"
                    + (f"：{found.problems[0]}" if found.problems else "")
                    + "，须人工打开浏览",
                    file=f.path,
                    field="内容数据",
                    record=f.record_key or "",
                )
            )
            continue
        if found.opens:
            opened += 1
        for w in found.conformance:
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL,
                    message=w,
                    file=f.path,
                    field="格式符合性",
                    rule=_open_rule(found.kind),
                    record=f.record_key or "",
                )
            )
        if found.warnings:
            strict_only += 1
    if not out:
        extra = (
            f"；其中 {strict_only} 个文件仅在 GB/T 33190-2016 严格模式下有偏差（宽松模式通过）"
            if strict_only
            else ""
        )
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"{long_term} 个内容文件为长期保存格式，{opened} 个经检查能正常打开{extra}",
            )
        )
    return out


def _kind_label(kind: str) -> str:
    return {
        "ofd": "OFD ",
        "pdf": "PDF ",
        "image": "图像",
        "audio": "音频",
        "video": "视频",
    }.get(kind, "")


def _open_rule(kind: str) -> str:
    return {
        "ofd": "GB/T 33190-2016（宽松模式）",
        "pdf": "ISO 32000 / ISO 19005（PDF/A）",
        "image": "图像解码",
        "audio": "音视频探测（ffprobe）",
        "video": "音视频探测（ffprobe）",
    }.get(kind, "")


@check("GD-3-8", "YJ-3-8")
def no_encryption_or_private_compression(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "3-8")
    files = [f for f in ctx.transfer.files if f.role is not FileRole.TAG]
    if not files:
        return [Finding(code=c, status=Status.NOT_APPLICABLE, message="信息包中没有文件")]
    out = reader_findings(ctx, "3-8")
    for f, found in zip(files, _content.protections(ctx, files), strict=True):
        for p in found:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message=p.message + (f"（{p.member}）" if p.member else ""),
                    file=f.path,
                    field=p.kind.label,
                    expected="未加密、无口令、使用公开的压缩算法",
                    found=p.detail or p.kind.label,
                    rule="DA/T 70-2018 可用性 3-4",
                    record=f.record_key or "",
                )
            )
    if not out:
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"{len(files)} 个文件均未加密、无口令、未使用非公开压缩算法",
            )
        )
    return out
