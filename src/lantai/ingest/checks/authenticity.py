"""真实性 (authenticity) checks, DA/T 70 items 1-x of the 归档 (GD) and 移交接收 (YJ) stages.

Each function binds to its GD and YJ codes; wording (name, purpose, basis, method) is in
``catalogue.yaml``. The metadata items reuse the catalogue's own rules through
:mod:`lantai.ingest.checks._metadata` (``MetadataScheme.coerce/validate``, ``CodeRule.check``);
the content items read what the pipeline already computed (digests, format identification) and,
for OFD/PDF, the cached inspections of :mod:`lantai.ingest.checks._content`.

- GD-1-1 :func:`fixity_information_valid` — declared digests, OFD signature references, EEP signatures
- GD-1-2 … 1-6 — metadata length, type/format, value range, plausibility, special characters
- GD-1-7 :func:`archival_code_valid` — 档号 against the configured rule
- GD-1-8 :func:`metadata_not_duplicated` — in the package and against the catalogue
- GD-1-10 :func:`electronic_properties_consistent` — file name, size, format, pages vs 电子属性
- GD-1-11 :func:`metadata_linked_to_content` — no missing files, no orphans
- GD-1-12 / 1-13 — description and directory files, package structure
- GD-1-14 :func:`package_unchanged` — package digest as received vs as declared
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from pathlib import PurePosixPath

from sqlalchemy import select

from lantai.archival import Level
from lantai.archival.scheme import R_CHARS, R_LENGTH, R_PLAUSIBLE, R_RANGE, R_TYPE
from lantai.ingest.checks import _content, _packaging
from lantai.ingest.checks._core import CheckContext, Finding, Status, check
from lantai.ingest.checks._evidence import clip, code, files_by_path, reader_findings
from lantai.ingest.checks._metadata import (
    RecordMetadata,
    analyse,
    code_rule_for,
    code_values,
    electronic_value,
    findings_for_rule,
)
from lantai.ingest.transfer import FileRole, TransferFile
from lantai.store import Record

__all__ = [
    "archival_code_valid",
    "description_and_directory_files",
    "electronic_properties_consistent",
    "fixity_information_valid",
    "metadata_length",
    "metadata_linked_to_content",
    "metadata_not_duplicated",
    "metadata_plausible",
    "metadata_special_characters",
    "metadata_type_and_format",
    "metadata_value_range",
    "package_structure",
    "package_unchanged",
]

_ALGORITHMS = {"sha256": "SHA-256", "sm3": "SM3"}
_DB_CHUNK = 500


def _norm_alg(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


# -- 1-1 固化信息 ------------------------------------------------------------------------------------


@check("GD-1-1", "YJ-1-1")
def fixity_information_valid(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "1-1")
    out: list[Finding] = reader_findings(ctx, "1-1")
    verified = by_reader = 0
    unverifiable: list[str] = []
    # Content of a record that carries an EEP 电子签名 is protected by that signature (it
    # signs the 被签名对象 holding the 编码数据), verified below.
    signed = {p for r in ctx.transfer.records if r.signatures for p in r.files}
    for f in ctx.transfer.files:
        if f.role is FileRole.TAG:
            continue
        if f.sha256 is None or f.sm3 is None:
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL,
                    message="接收时未计算该文件的 SHA-256/SM3 摘要，无法核验固化信息",
                    file=f.path,
                )
            )
            continue
        computed = {"sha256": f.sha256.lower(), "sm3": f.sm3.lower()}
        compared = False
        for alg, want in f.declared.items():
            key = _norm_alg(alg)
            got = computed.get(key)
            if got is None:
                continue
            compared = True
            if got != want.strip().lower():
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"{_ALGORITHMS[key]} 摘要与发送方声明的不一致，文件可能已被改动",
                        file=f.path,
                        field=f"{_ALGORITHMS[key]} 摘要",
                        expected=want.strip().lower(),
                        found=got,
                        rule="GB/T 32905-2016" if key == "sm3" else "FIPS 180-4",
                        record=f.record_key or "",
                    )
                )
        if compared:
            verified += 1
        elif f.declared:
            # Algorithms the receipt pass does not compute (MD5, SHA-1, SHA-512 of a BagIt
            # manifest) are verified by the reader in the same read; a mismatch arrives as a
            # reader note (code 1-1, severity error) among the findings above.
            by_reader += 1
        elif (
            f.role is FileRole.CONTENT
            and f.path not in signed
            and not _content.has_signature(ctx, f)
        ):
            unverifiable.append(f.path)
    out.extend(_content.ofd_signature_findings(ctx, c))
    out.extend(_content.eep_signature_findings(ctx, c))
    if unverifiable:
        out.append(
            Finding(
                code=c,
                status=Status.MANUAL,
                message=(
                    f"{len(unverifiable)} 个文件没有发送方声明的摘要或签名，固化信息无法由系统验证；"
                    "接收时计算的 SHA-256/SM3 已记录，须对照交接单据人工复核"
                ),
                file=clip("、".join(unverifiable[:5]) + ("……" if len(unverifiable) > 5 else "")),
            )
        )
    if (verified or by_reader) and not any(o.status is Status.FAILED for o in out):
        extra = f"（其中 {by_reader} 个由读取程序按清单所用算法核验）" if by_reader else ""
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"{verified + by_reader} 个文件的摘要与发送方声明的一致{extra}",
            )
        )
    if not out:
        out.append(Finding(code=c, status=Status.NOT_APPLICABLE, message="信息包中没有文件"))
    return out


# -- 1-2 … 1-6 元数据准确性 ------------------------------------------------------------------------


@check("GD-1-2", "YJ-1-2")
def metadata_length(ctx: CheckContext) -> list[Finding]:
    return findings_for_rule(ctx, "1-2", R_LENGTH, "元数据项长度")


@check("GD-1-3", "YJ-1-3")
def metadata_type_and_format(ctx: CheckContext) -> list[Finding]:
    out = findings_for_rule(ctx, "1-3", R_TYPE, "元数据项类型与格式")
    for meta in analyse(ctx):
        for key in meta.unknown:
            name = meta.record.source_names.get(key, key)
            out.append(
                Finding(
                    code=code(ctx, "1-3"),
                    status=Status.MANUAL,
                    message=f"著录方案「{meta.scheme.title}」中没有此元数据项，入库时不会保存",
                    file=meta.record.location,
                    field=name,
                    found=clip(meta.record.values.get(key)),
                    rule="著录方案",
                    record=meta.record.key,
                )
            )
    return _without_lone_pass(out)


@check("GD-1-4", "YJ-1-4")
def metadata_value_range(ctx: CheckContext) -> list[Finding]:
    return findings_for_rule(ctx, "1-4", R_RANGE, "设定值域的元数据项")


@check("GD-1-5", "YJ-1-5")
def metadata_plausible(ctx: CheckContext) -> list[Finding]:
    return findings_for_rule(ctx, "1-5", R_PLAUSIBLE, "元数据取值")


@check("GD-1-6", "YJ-1-6")
def metadata_special_characters(ctx: CheckContext) -> list[Finding]:
    return findings_for_rule(ctx, "1-6", R_CHARS, "元数据字符")


def _without_lone_pass(findings: list[Finding]) -> list[Finding]:
    """Drop the 通过 summary when other findings were added after it."""
    if len(findings) > 1:
        return [f for f in findings if f.status is not Status.PASSED]
    return findings


# -- 1-7 档号 ----------------------------------------------------------------------------------------


@check("GD-1-7", "YJ-1-7")
def archival_code_valid(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "1-7")
    metas = analyse(ctx)
    if not metas:
        return [Finding(code=c, status=Status.NOT_APPLICABLE, message="信息包中没有元数据记录")]
    out: list[Finding] = reader_findings(ctx, "1-7")
    checked = 0
    for meta in metas:
        given = meta.stored.get("archival_code")
        if meta.category is None:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message="无法确定门类，不能选择档号规则（请在移交时指定门类）",
                    file=meta.record.location,
                    field="门类",
                    rule="DA/T 13-2022",
                    record=meta.record.key,
                )
            )
            continue
        rule = code_rule_for(ctx, meta)
        if rule is None:
            if given:
                out.append(
                    Finding(
                        code=c,
                        status=Status.MANUAL,
                        message=f"门类「{meta.category}」的{meta.level.label}没有配置档号规则，档号须人工核对",
                        file=meta.record.location,
                        field="档号",
                        found=str(given),
                        record=meta.record.key,
                    )
                )
            continue
        values = code_values(ctx, meta)
        if given:
            problems = rule.check(str(given), values)
        else:
            problems = [
                replace(p, message="无法按规则生成档号：" + p.message)
                for p in rule.check_values(values)
            ]
        checked += 1
        for p in problems:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message=p.message,
                    file=meta.record.location,
                    field=p.field or "档号",
                    expected=rule.example and f"规则 {rule.id}，如 {rule.example}",
                    found=p.value if p.value is not None else (str(given) if given else None),
                    rule=p.rule,
                    record=meta.record.key,
                )
            )
    if not out:
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"{checked} 条记录的档号符合规则（未给出档号的将在入库时按规则编号）",
            )
        )
    return out


# -- 1-8 重复性 --------------------------------------------------------------------------------------


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _DB_CHUNK):
        yield items[i : i + _DB_CHUNK]


@check("GD-1-8", "YJ-1-8")
def metadata_not_duplicated(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "1-8")
    metas = analyse(ctx)
    out: list[Finding] = reader_findings(ctx, "1-8")

    def dup(
        status: Status,
        message: str,
        meta: RecordMetadata | None,
        field: str,
        found: str,
        *,
        file: str = "",
        rule: str = "GD-1-8 重复性",
    ) -> None:
        out.append(
            Finding(
                code=c,
                status=status,
                message=message,
                file=file or (meta.record.location if meta else ""),
                field=field,
                expected="唯一",
                found=found,
                rule=rule,
                record=meta.record.key if meta else "",
            )
        )

    # In the package.
    keys = Counter(m.record.key for m in metas)
    for m in metas:
        if keys[m.record.key] > 1:
            dup(
                Status.FAILED,
                f"电子文件号「{m.record.key}」在信息包中出现 {keys[m.record.key]} 次",
                m,
                "电子文件号",
                m.record.key,
            )
    by_code: dict[str, list[RecordMetadata]] = defaultdict(list)
    by_number: dict[tuple[str, str], list[RecordMetadata]] = defaultdict(list)
    by_title: dict[tuple[str, str, str], list[RecordMetadata]] = defaultdict(list)
    for m in metas:
        s = m.stored
        if s.get("archival_code"):
            by_code[str(s["archival_code"])].append(m)
        if s.get("doc_number"):
            by_number[(str(s["doc_number"]), str(s.get("responsible") or ""))].append(m)
        if s.get("title"):
            by_title[
                (str(s["title"]), str(s.get("date") or ""), str(s.get("responsible") or ""))
            ].append(m)
    for value, group in by_code.items():
        for m in group[1:]:
            dup(
                Status.FAILED,
                f"档号「{value}」在信息包中重复（另见记录 {group[0].record.key}）",
                m,
                "档号",
                value,
            )
    for (number, _), group in by_number.items():
        for m in group[1:]:
            dup(
                Status.MANUAL,
                f"同一责任者的文号「{number}」在信息包中重复（另见记录 {group[0].record.key}），须人工确认",
                m,
                "文件编号",
                number,
            )
    for (title, _, _), group in by_title.items():
        for m in group[1:]:
            dup(
                Status.MANUAL,
                f"题名、日期、责任者均相同的记录重复（另见记录 {group[0].record.key}），须人工确认",
                m,
                "题名",
                title,
            )
    invoices = _content.invoices(ctx)
    seen_invoice: dict[tuple[str, str], str] = {}
    for path, inv in invoices.items():
        key = (inv.code or "", inv.number)
        if key in seen_invoice:
            dup(
                Status.FAILED,
                f"电子发票（发票代码 {inv.code or '无'}，发票号码 {inv.number}）在信息包中重复（另见 {seen_invoice[key]}），重复入账",
                None,
                "发票号码",
                inv.number,
                file=path,
                rule="财会〔2020〕6号 防止重复入账",
            )
        else:
            seen_invoice[key] = path

    # Against the catalogue.
    codes = sorted(by_code)
    numbers = sorted({n for n, _ in by_number})
    responsibles: dict[str, list[str]] = defaultdict(list)
    for n, resp in by_number:
        responsibles[n].append(resp)
    with ctx.inst.db.read() as session:
        for chunk in _chunks(codes):
            for rid, taken in session.execute(
                select(Record.id, Record.archival_code).where(Record.archival_code.in_(chunk))
            ):
                for m in by_code[str(taken)][:1]:
                    dup(
                        Status.FAILED,
                        f"档号「{taken}」已被目录数据库中的条目 {rid} 使用",
                        m,
                        "档号",
                        str(taken),
                    )
        for chunk in _chunks(numbers):
            rows = session.execute(
                select(
                    Record.id, Record.archival_code, Record.doc_number, Record.responsible
                ).where(Record.doc_number.in_(chunk), Record.lifecycle == "active")
            )
            for rid, acode, held_number, held_by in rows:
                for resp in responsibles.get(str(held_number), ()):
                    group = by_number[(str(held_number), resp)]
                    n = str(held_number)
                    if not resp or not held_by or resp == held_by:
                        dup(
                            Status.MANUAL,
                            f"文号「{n}」与目录数据库中的条目 {acode or rid} 相同，须人工确认是否重复",
                            group[0],
                            "文件编号",
                            n,
                        )
        if invoices:
            numbers_inv = sorted({inv.number for inv in invoices.values()})
            for chunk in _chunks(numbers_inv):
                col = Record.fields["invoice_no"].as_string()
                for rid, acode, fields in session.execute(
                    select(Record.id, Record.archival_code, Record.fields).where(col.in_(chunk))
                ):
                    held = (
                        str((fields or {}).get("invoice_code") or ""),
                        str(fields["invoice_no"]),
                    )
                    for path, inv in invoices.items():
                        if (inv.code or "", inv.number) == held:
                            dup(
                                Status.FAILED,
                                f"电子发票（发票号码 {inv.number}）已由目录数据库中的条目 {acode or rid} 入账，重复入账",
                                None,
                                "发票号码",
                                inv.number,
                                file=path,
                                rule="财会〔2020〕6号 防止重复入账",
                            )
    if not out:
        what = f"{len(metas)} 条记录" + (f"、{len(invoices)} 张电子发票" if invoices else "")
        out.append(
            Finding(code=c, status=Status.PASSED, message=f"{what}在信息包内和目录数据库中均无重复")
        )
    return out


# -- 1-10 电子属性一致性 ----------------------------------------------------------------------------


# Format families, to compare a declared 格式信息 or a file extension with the identification.
_FAMILIES = {
    "PDF": ("PDF",),
    "OFD": ("OFD",),
    "JPEG": ("JPEG", "JPG", "JFIF"),
    "JPEG2000": ("JPEG2000", "JPEG 2000", "JP2", "JPX"),
    "TIFF": ("TIFF", "TIF"),
    "PNG": ("PNG",),
    "GIF": ("GIF",),
    "BMP": ("BMP", "BITMAP"),
    "XML": ("XML",),
    "TXT": ("TXT", "TEXT/PLAIN", "PLAIN TEXT"),
    "CSV": ("CSV",),
    "WAV": ("WAV", "WAVE"),
    "MP3": ("MP3", "MPEG-1 AUDIO LAYER 3", "AUDIO/MPEG"),
    "MP4": ("MP4", "MPEG-4"),
    "DOCX": ("DOCX", "WORDPROCESSINGML"),
    "DOC": ("DOC", "MSWORD", "WORD"),
    "XLSX": ("XLSX", "SPREADSHEETML"),
    "XLS": ("XLS", "MS-EXCEL", "EXCEL"),
    "ZIP": ("ZIP",),
}


def _family(text: str) -> str | None:
    t = text.upper()
    best: tuple[int, str] | None = None
    for family, words in _FAMILIES.items():
        for w in words:
            if w in t and (best is None or len(w) > best[0]):
                best = (len(w), family)
    return best[1] if best else None


def _identified_family(f: TransferFile) -> str | None:
    fmt = f.format
    if fmt is None or (fmt.puid is None and fmt.mime is None):
        return None
    if fmt.puid == _content.OFD_PUID:
        return "OFD"
    return _family(" ".join(x for x in (fmt.mime, fmt.name) if x))


@check("GD-1-10", "YJ-1-10")
def electronic_properties_consistent(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "1-10")
    files = files_by_path(ctx)
    out: list[Finding] = reader_findings(ctx, "1-10")
    compared = 0

    def fail(
        status: Status,
        message: str,
        f: TransferFile,
        field: str,
        expected: str,
        found: str,
        record: str,
    ) -> None:
        out.append(
            Finding(
                code=c,
                status=status,
                message=message,
                file=f.path,
                field=field,
                expected=expected,
                found=found,
                rule="DA/T 46-2009 电子属性",
                record=record,
            )
        )

    for f in ctx.transfer.content_files():
        name = PurePosixPath(f.path).name
        ident = _identified_family(f)
        warning = f.format.warning if f.format is not None else None
        ext = PurePosixPath(name).suffix.lstrip(".")
        ext_family = _family(ext) if ext else None
        if ext and warning and "extension mismatch" in warning:
            fail(
                Status.FAILED,
                f"文件扩展名与实际格式不符：{warning}",
                f,
                "计算机文件名",
                f"扩展名与格式「{f.format.name if f.format else ''}」相符",
                name,
                f.record_key or "",
            )
        elif ident and ext_family and ident != ext_family and {ident, ext_family} & {"OFD"}:
            fail(
                Status.FAILED,
                f"文件扩展名为 .{ext}，实际格式为 {ident}",
                f,
                "计算机文件名",
                ident,
                ext_family,
                f.record_key or "",
            )
    for r in ctx.transfer.records:
        for path in r.files:
            held = files.get(path)
            if held is None:
                continue  # GD-1-11 / 2-7
            f = held
            declared_any = False
            ok, value = electronic_value(r, path, "name")
            if ok and value not in (None, ""):
                declared_any = True
                if str(value).strip() != PurePosixPath(path).name:
                    fail(
                        Status.FAILED,
                        "计算机文件名与实际文件名不一致",
                        f,
                        "计算机文件名",
                        str(value).strip(),
                        PurePosixPath(path).name,
                        r.key,
                    )
            ok, value = electronic_value(r, path, "size")
            if ok and value not in (None, ""):
                declared_any = True
                try:
                    declared_size = int(str(value).strip())
                except ValueError:
                    fail(
                        Status.FAILED,
                        "计算机文件大小不是整数",
                        f,
                        "计算机文件大小",
                        "字节数（整数）",
                        str(value),
                        r.key,
                    )
                else:
                    if declared_size != f.size:
                        fail(
                            Status.FAILED,
                            "计算机文件大小与实际字节数不一致",
                            f,
                            "计算机文件大小",
                            str(declared_size),
                            str(f.size),
                            r.key,
                        )
            ok, value = electronic_value(r, path, "format")
            if ok and value not in (None, ""):
                declared_any = True
                want, got = _family(str(value)), _identified_family(f)
                if want and got and want != got:
                    fail(
                        Status.FAILED,
                        f"格式信息「{value}」与识别出的格式不一致",
                        f,
                        "格式信息",
                        str(value),
                        f"{got}（{f.format.puid if f.format else ''}）",
                        r.key,
                    )
            if declared_any:
                compared += 1
    for meta in analyse(ctx):
        out.extend(_page_findings(ctx, c, meta))
    if not out:
        if compared:
            out.append(
                Finding(
                    code=c, status=Status.PASSED, message=f"{compared} 个文件的电子属性与实际一致"
                )
            )
        else:
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL,
                    message="信息包未记录内容文件的电子属性（计算机文件名、大小、格式），无法比对",
                )
            )
    return out


def _page_findings(ctx: CheckContext, c: str, meta: RecordMetadata) -> list[Finding]:
    """页数 of the record vs the pages of its 正文 or of the whole 件 (正文 and 附件).

    DA/T 22 counts the pages of the whole 件; agencies often record the 正文's alone, so either
    agreeing is accepted.
    """
    r = meta.record
    declared = meta.stored.get("pages")
    if not isinstance(declared, int):
        return []
    files = files_by_path(ctx)
    counts: list[int] = []
    for path in r.files:
        f = files.get(path)
        if f is None:
            return []
        pages = (
            _content.inspection(ctx, f).pages
            if _content.content_kind(f) in ("ofd", "pdf")
            else None
        )
        if pages is None:
            return []
        counts.append(pages)
    if not counts or declared in (counts[0], sum(counts)):
        return []
    return [
        Finding(
            code=c,
            status=Status.FAILED,
            message=f"著录页数 {declared} 与电子文件页数（{'、'.join(map(str, counts))}）不一致",
            file=r.files[0],
            field="页数",
            expected=str(declared),
            found=str(sum(counts)),
            rule="DA/T 70-2018 真实性 1-3",
            record=r.key,
        )
    ]


# -- 1-11 元数据与内容关联 --------------------------------------------------------------------------


@check("GD-1-11", "YJ-1-11")
def metadata_linked_to_content(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "1-11")
    t = ctx.transfer
    out = reader_findings(ctx, "1-11")
    if not t.records:
        out.append(
            Finding(
                code=c,
                status=Status.MANUAL,
                message="信息包中没有元数据记录，无法核对元数据与内容的关联",
            )
        )
        return out
    files = files_by_path(ctx)
    folded = {p.casefold(): p for p in files}
    keys = {r.key for r in t.records}
    linked: set[str] = {f.path for f in t.files if f.record_key in keys}
    for r in t.records:
        if not r.files and r.level is Level.ITEM:  # a 案卷 may hold no file of its own
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message="该记录没有关联任何内容文件",
                    file=r.location,
                    field="存储位置",
                    expected="至少一个内容文件",
                    found="无",
                    record=r.key,
                )
            )
        for path in r.files:
            if path in files:
                linked.add(path)
                continue
            near = folded.get(path.casefold())
            hint = f"（信息包中有大小写不同的「{near}」）" if near else ""
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message=f"元数据记录的内容文件在信息包中不存在{hint}",
                    file=path,
                    field="存储位置",
                    expected=path,
                    found=near or "不存在",
                    record=r.key,
                )
            )
    for f in t.content_files():
        if f.path not in linked:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message="该内容文件没有对应的元数据记录（孤立文件）",
                    file=f.path,
                    expected="由一条元数据记录引用",
                    found="无记录引用",
                )
            )
    if not out:
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"{len(t.records)} 条记录与 {len(t.content_files())} 个内容文件一一关联",
            )
        )
    return out


# -- 1-12 / 1-13 说明文件、目录文件、目录结构 -----------------------------------------------------


@check("GD-1-12", "YJ-1-12")
def description_and_directory_files(ctx: CheckContext) -> list[Finding]:
    return _packaging.description_findings(ctx, code(ctx, "1-12"))


@check("GD-1-13", "YJ-1-13")
def package_structure(ctx: CheckContext) -> list[Finding]:
    return _packaging.structure_findings(ctx, code(ctx, "1-13"))


# -- 1-14 信息包一致性 ------------------------------------------------------------------------------


@check("GD-1-14", "YJ-1-14")
def package_unchanged(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "1-14")
    t = ctx.transfer
    out = reader_findings(ctx, "1-14")
    pairs = [
        ("SHA-256", t.declared.package_sha256, t.package_sha256),
        ("SM3", t.declared.package_sm3, t.package_sm3),
    ]
    compared = 0
    for alg, declared, actual in pairs:
        if not declared:
            continue
        if not actual:
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL,
                    message=f"发送方声明了信息包的 {alg} 摘要，但接收时未计算该摘要",
                    file=t.source_name,
                    field=f"{alg} 摘要",
                    expected=declared,
                )
            )
            continue
        compared += 1
        if declared.strip().lower() != actual.lower():
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message=f"接收到的信息包的 {alg} 摘要与发送方声明的不一致，信息包在传递中可能被改动",
                    file=t.source_name,
                    field=f"{alg} 摘要",
                    expected=declared.strip().lower(),
                    found=actual.lower(),
                    rule=t.declared.source or "交接单据",
                )
            )
    if not compared and not out:
        found = "；".join(f"{a} {v}" for a, _, v in pairs if v) or None
        out.append(
            Finding(
                code=c,
                status=Status.MANUAL,
                message="发送方未声明信息包摘要，须对照交接单据人工核对接收包与移交包一致",
                file=t.source_name,
                found=found,
            )
        )
    if not out:
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message="接收到的信息包摘要与发送方声明的一致",
                file=t.source_name,
            )
        )
    return out
