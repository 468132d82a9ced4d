"""完整性 (integrity) checks, DA/T 70 items 2-x of the 归档 (GD) and 移交接收 (YJ) stages.

- GD-2-1 :func:`item_count_matches` — 件数 declared (登记表, package) vs records received
- GD-2-2 :func:`byte_count_matches` — 字节数 declared vs bytes received
- GD-2-3 :func:`metadata_items_present` — GB/T 18894-2016 minimum metadata present (缺项)
- GD-2-4 :func:`required_items_filled` — 必著 items not empty (scheme rule)
- GD-2-5 :func:`process_metadata_complete` — 业务实体: action, time, agent for each step
- GD-2-6 :func:`sequence_numbers_continuous` — 件号 continuous from the group's next number
- GD-2-7 :func:`content_complete` — every record's content received, non-empty, hashed
- GD-2-9 :func:`within_filing_scope` — against the 三合一 table in force
- GD-2-10 :func:`package_metadata_complete` — DA/T 48 附录C / 登记表 fields
- GD-2-11 :func:`file_count_matches` — file count declared vs received
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from sqlalchemy import select

from lantai.archival import Level
from lantai.archival.scheme import R_REQUIRED
from lantai.ingest.checks import _packaging
from lantai.ingest.checks._core import CheckContext, Finding, Status, check
from lantai.ingest.checks._evidence import clip, code, files_by_path, reader_findings
from lantai.ingest.checks._metadata import (
    ELECTRONIC_LABELS,
    RecordMetadata,
    analyse,
    code_rule_for,
    code_values,
    electronic_value,
    findings_for_rule,
)
from lantai.ingest.transfer import FileRole
from lantai.store import CodeCounter

__all__ = [
    "byte_count_matches",
    "content_complete",
    "file_count_matches",
    "item_count_matches",
    "metadata_items_present",
    "package_metadata_complete",
    "process_metadata_complete",
    "required_items_filled",
    "sequence_numbers_continuous",
    "within_filing_scope",
]

# GB/T 18894-2016: the 文件实体 elements to capture at 归档 (standards digest §2.2). Elements the
# scheme requires (必著) are GD-2-4's; this item reports the others when the package lacks them.
MINIMUM_ELEMENTS = (
    "title",
    "doc_number",
    "responsible",
    "date",
    "org_code",
    "retention",
    "security_level",
)
MINIMUM_ELECTRONIC = ("format", "name", "size", "creator")


def _register_label(ctx: CheckContext) -> str:
    return "电子文件归档登记表" if ctx.stage.value == "GD" else "移交接收登记表"


def _compare(
    ctx: CheckContext,
    suffix: str,
    what: str,
    unit: str,
    declarations: list[tuple[str, int | None, int]],
) -> list[Finding]:
    """Compare each declaration (source, declared, actual); none declared is 人工复核."""
    c = code(ctx, suffix)
    out = reader_findings(ctx, suffix)
    stated = [(src, v, actual) for src, v, actual in declarations if v is not None]
    # A reader warning for this item explains a known deviation (e.g. BagIt Payload-Oxum
    # counting listed-but-absent system files): a mismatch is then 人工复核, not 不通过.
    explained = any(f.status is Status.MANUAL for f in out) and not any(
        f.status is Status.FAILED for f in out
    )
    for src, value, actual in stated:
        if value != actual:
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL if explained else Status.FAILED,
                    message=f"{src}登记的{what}为 {value}{unit}，实际接收 {actual}{unit}",
                    file=src,
                    field=what,
                    expected=str(value),
                    found=str(actual),
                )
            )
    if not stated:
        actual = declarations[0][2]
        out.append(
            Finding(
                code=c,
                status=Status.MANUAL,
                message=f"信息包和{_register_label(ctx)}均未登记{what}，须人工核对（实际 {actual}{unit}）",
                field=what,
                found=str(actual),
            )
        )
    elif not out:
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message="、".join(
                    f"{src}登记的{what}与实际一致（{a}{unit}）" for src, _, a in stated
                ),
                field=what,
                expected=str(stated[0][1]),
                found=str(stated[0][2]),
            )
        )
    return out


def _declared_source(ctx: CheckContext) -> str:
    return ctx.transfer.declared.source or "信息包"


# -- 2-1 / 2-2 / 2-11 数量 --------------------------------------------------------------------------


@check("GD-2-1", "YJ-2-1")
def item_count_matches(ctx: CheckContext) -> list[Finding]:
    t = ctx.transfer
    reg = t.register
    n = len(t.records)
    return _compare(
        ctx,
        "2-1",
        "件数",
        " 件",
        [
            (_register_label(ctx), reg.items if reg is not None else None, n),
            (_declared_source(ctx), t.declared.items, n),
        ],
    )


@check("GD-2-2", "YJ-2-2")
def byte_count_matches(ctx: CheckContext) -> list[Finding]:
    """登记表 字节数 counts content files; a package declaration (Payload-Oxum) its whole payload."""
    t = ctx.transfer
    reg = t.register
    payload = sum(f.size for f in t.files if f.role is not FileRole.TAG)
    return _compare(
        ctx,
        "2-2",
        "字节数",
        " 字节",
        [
            (_register_label(ctx), reg.bytes if reg is not None else None, t.total_bytes),
            (_declared_source(ctx), t.declared.bytes, payload),
        ],
    )


@check("GD-2-11", "YJ-2-11")
def file_count_matches(ctx: CheckContext) -> list[Finding]:
    """Files declared (package metadata, else the records' file references) vs files received."""
    t = ctx.transfer
    if t.declared.files is not None:
        actual = sum(1 for f in t.files if f.role is not FileRole.TAG)
        return _compare(
            ctx, "2-11", "文件数", " 个", [(_declared_source(ctx), t.declared.files, actual)]
        )
    referenced = {p for r in t.records for p in r.files}
    return _compare(
        ctx,
        "2-11",
        "文件数",
        " 个",
        [("元数据记录", len(referenced) if t.records else None, len(t.content_files()))],
    )


# -- 2-3 缺项 / 2-4 必著 ----------------------------------------------------------------------------


@check("GD-2-3", "YJ-2-3")
def metadata_items_present(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "2-3")
    metas = analyse(ctx)
    if not metas:
        return [Finding(code=c, status=Status.NOT_APPLICABLE, message="信息包中没有元数据记录")]
    out: list[Finding] = reader_findings(ctx, "2-3")
    for meta in metas:
        missing: list[str] = []
        for key in MINIMUM_ELEMENTS:
            el = meta.scheme.element(key)
            if el is None or el.obligation_at(meta.level) in (None, "R"):
                continue  # not used at this level, or 必著 (GD-2-4)
            if key not in meta.record.values:
                missing.append(el.name)
        for path in meta.record.files:
            for prop in MINIMUM_ELECTRONIC:
                declared, _ = electronic_value(meta.record, path, prop)
                if prop == "name" and not declared and len(meta.record.files) == 1:
                    continue
                if not declared:
                    missing.append(f"{ELECTRONIC_LABELS[prop]}（{path}）")
        if missing:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message="缺少 GB/T 18894-2016 规定归档时应捕获的元数据项："
                    + "、".join(missing),
                    file=meta.record.location,
                    field=clip("、".join(missing), 120),
                    expected="题名、文件编号、责任者、日期、机构或问题、保管期限、密级及每个文件的电子属性",
                    found="缺项",
                    rule="GB/T 18894-2016",
                    record=meta.record.key,
                )
            )
    if not out:
        out.append(
            Finding(code=c, status=Status.PASSED, message=f"{len(metas)} 条记录的元数据项齐全")
        )
    return out


@check("GD-2-4", "YJ-2-4")
def required_items_filled(ctx: CheckContext) -> list[Finding]:
    return findings_for_rule(ctx, "2-4", R_REQUIRED, "必著项")


# -- 2-5 过程信息 ------------------------------------------------------------------------------------


@check("GD-2-5", "YJ-2-5")
def process_metadata_complete(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "2-5")
    records = ctx.transfer.records
    if not records:
        return [Finding(code=c, status=Status.NOT_APPLICABLE, message="信息包中没有元数据记录")]
    out: list[Finding] = reader_findings(ctx, "2-5")
    for r in records:
        if not r.process and r.level is Level.ITEM:
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message="没有过程信息（业务实体：拟制、办理过程的业务行为、行为时间、机构人员）",
                    file=r.location,
                    field="业务实体",
                    expected="至少一个业务行为",
                    found="无",
                    rule="GB/T 18894-2016",
                    record=r.key,
                )
            )
            continue
        for i, step in enumerate(r.process, 1):
            lacking = [
                label
                for label, value in (
                    ("业务行为", step.action),
                    ("行为时间", step.time),
                    ("机构人员名称", step.agent),
                )
                if not value.strip()
            ]
            if lacking:
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"第 {i} 个业务行为（{step.action or '未命名'}）缺少"
                        + "、".join(lacking),
                        file=r.location,
                        field="、".join(lacking),
                        expected="非空",
                        found="（空）",
                        rule="GB/T 18894-2016",
                        record=r.key,
                    )
                )
    if not out:
        steps = sum(len(r.process) for r in records)
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"{len(records)} 条记录均有过程信息（共 {steps} 个业务行为）",
            )
        )
    return out


# -- 2-6 连续性 --------------------------------------------------------------------------------------


def _ranges(numbers: list[int]) -> str:
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return "、".join(parts)


@check("GD-2-6", "YJ-2-6")
def sequence_numbers_continuous(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "2-6")
    out: list[Finding] = reader_findings(ctx, "2-6")
    groups: dict[str, list[tuple[int, RecordMetadata]]] = defaultdict(list)
    prefixes: dict[str, tuple[str, int, str]] = {}  # group → (prefix, start, counter label)
    for meta in analyse(ctx):
        rule = code_rule_for(ctx, meta)
        if rule is None:
            continue
        given = meta.stored.get("archival_code")
        own = meta.stored.get(rule.counter.name)
        if given:
            parsed = rule.parse(str(given))
            if parsed is None:
                continue  # GD-1-7 reports it
            prefix, number = parsed.prefix, parsed.counter
            if isinstance(own, int) and own != number:
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"{rule.counter_label}著录为 {own}，与档号「{given}」中的{rule.counter_label}不一致",
                        file=meta.record.location,
                        field=rule.counter_label,
                        expected=str(number),
                        found=str(own),
                        rule=rule.id,
                        record=meta.record.key,
                    )
                )
        elif isinstance(own, int):
            try:
                prefix = rule.render_prefix(code_values(ctx, meta))
            except ValueError:
                continue  # GD-1-7 reports why no 档号 can be made
            number = own
        else:
            continue
        group = rule.group_key(prefix)
        groups[group].append((number, meta))
        prefixes[group] = (prefix, rule.counter.start, rule.counter_label)
    if groups:
        with ctx.inst.db.read() as s:
            used = {
                key: value
                for key, value in s.execute(
                    select(CodeCounter.group_key, CodeCounter.value).where(
                        CodeCounter.group_key.in_(sorted(groups))
                    )
                )
            }
        for group, entries in groups.items():
            prefix, start, label = prefixes[group]
            numbers = sorted(n for n, _ in entries)
            shown = prefix or "（无前缀）"
            last = used.get(group)
            first_expected = int(last) + 1 if last is not None else start
            seen: set[int] = set()
            for n, meta in sorted(entries, key=lambda e: e[0]):
                if n in seen:
                    out.append(
                        Finding(
                            code=c,
                            status=Status.FAILED,
                            message=f"档号组「{shown}」中{label} {n} 重号",
                            file=meta.record.location,
                            field=label,
                            expected="不重复",
                            found=str(n),
                            record=meta.record.key,
                        )
                    )
                seen.add(n)
            if numbers[0] != first_expected:
                basis = (
                    f"目录数据库中该组已编至 {last}"
                    if last is not None
                    else f"规则规定从 {start} 起编"
                )
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"档号组「{shown}」的{label}应从 {first_expected} 起编（{basis}），实际从 {numbers[0]} 起",
                        field=label,
                        expected=str(first_expected),
                        found=str(numbers[0]),
                    )
                )
            missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
            if missing:
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"档号组「{shown}」的{label}有漏号：{clip(_ranges(missing), 150)}",
                        field=label,
                        expected=f"{numbers[0]}–{numbers[-1]} 连续",
                        found=clip(_ranges(missing), 150),
                    )
                )
    out.extend(_document_sequence_findings(ctx, c))
    if not out:
        if groups:
            message = f"{len(groups)} 个档号组的{'、'.join(sorted({p[2] for p in prefixes.values()}))}连续"
            out.append(Finding(code=c, status=Status.PASSED, message=message))
        else:
            out.append(
                Finding(
                    code=c,
                    status=Status.NOT_APPLICABLE,
                    message="信息包未给出档号或件号，入库时按档号规则连续编号",
                )
            )
    return out


def _document_sequence_findings(ctx: CheckContext, c: str) -> list[Finding]:
    """文档序号 (EEP) of a record's files: 1, 2, 3 … when the sender numbered them."""
    out: list[Finding] = []
    for r in ctx.transfer.records:
        numbers: list[int] = []
        for path in r.files:
            raw = (r.electronic.get(path) or {}).get("文档序号")
            if raw is None:
                numbers = []
                break
            try:
                numbers.append(int(str(raw).strip()))
            except ValueError:
                numbers = []
                break
        if numbers and sorted(numbers) != list(range(1, len(numbers) + 1)):
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message="文档序号应从 1 起连续",
                    file=r.location,
                    field="文档序号",
                    expected="、".join(str(i) for i in range(1, len(numbers) + 1)),
                    found="、".join(str(n) for n in sorted(numbers)),
                    record=r.key,
                )
            )
    return out


# -- 2-7 内容数据完整性 ------------------------------------------------------------------------------


@check("GD-2-7", "YJ-2-7")
def content_complete(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "2-7")
    t = ctx.transfer
    out = reader_findings(ctx, "2-7")
    files = files_by_path(ctx)
    if not t.records:
        for tf in t.content_files():
            if tf.size == 0:  # no record says it should hold anything: review, not failure
                out.append(replace(_empty(c, tf.path, ""), status=Status.MANUAL))
        if not out:
            out.append(
                Finding(
                    code=c,
                    status=Status.PASSED,
                    message=f"{len(t.content_files())} 个内容文件均已接收且非空",
                )
            )
        return out
    for r in t.records:
        if not r.files and r.level is Level.ITEM:  # a 案卷 may hold no file of its own
            out.append(
                Finding(
                    code=c,
                    status=Status.FAILED,
                    message="该记录没有正文或附件",
                    file=r.location,
                    field="内容数据",
                    expected="正文及其附件",
                    found="无",
                    record=r.key,
                )
            )
        for path in r.files:
            f = files.get(path)
            if f is None:
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message="正文或附件未随信息包移交",
                        file=path,
                        field="内容数据",
                        expected="已接收",
                        found="缺失",
                        record=r.key,
                    )
                )
            elif f.size == 0:
                out.append(_empty(c, path, r.key))
            elif f.sha256 is None:
                out.append(
                    Finding(
                        code=c,
                        status=Status.MANUAL,
                        message="该文件未能完整读取（未计算摘要）",
                        file=path,
                        record=r.key,
                    )
                )
    if not out:
        count = sum(len(r.files) for r in t.records)
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"{len(t.records)} 条记录的正文和附件（{count} 个文件）均已接收且非空",
            )
        )
    return out


def _empty(c: str, path: str, record: str) -> Finding:
    return Finding(
        code=c,
        status=Status.FAILED,
        message="内容文件为空（0 字节）",
        file=path,
        field="计算机文件大小",
        expected="大于 0",
        found="0",
        record=record,
    )


# -- 2-9 归档范围 ------------------------------------------------------------------------------------


@check("GD-2-9", "YJ-2-9")
def within_filing_scope(ctx: CheckContext) -> list[Finding]:
    c = code(ctx, "2-9")
    metas = analyse(ctx)
    if not metas:
        return [Finding(code=c, status=Status.NOT_APPLICABLE, message="信息包中没有元数据记录")]
    book = ctx.inst.domain.classifications
    out: list[Finding] = reader_findings(ctx, "2-9")
    no_table: set[str] = set()
    matched = 0
    for meta in metas:
        on = ctx.today  # the table in force when the record is filed
        tables = [
            t
            for t in (book.table(i, on) for i in book.ids())
            if t is not None and t.spec.category == meta.category
        ]
        if not tables:
            no_table.add(meta.category or "（未定门类）")
            continue
        given = meta.stored.get("class_code") or meta.stored.get("class_number")
        if given:
            classes = sorted({cl.code for t in tables for cl in t.spec.classes})
            entries = sorted({e.code for t in tables for e in t.spec.entries})
            known = set(classes) | set(entries)
            if str(given) not in known:
                out.append(
                    Finding(
                        code=c,
                        status=Status.FAILED,
                        message=f"类目代码「{given}」不在现行三合一表（{'、'.join(t.title for t in tables)}）中",
                        file=meta.record.location,
                        field="分类号",
                        expected=clip(f"类目 {'、'.join(classes)}；条目 {'、'.join(entries)}", 160),
                        found=str(given),
                        rule="、".join(f"{t.id}@{t.version}" for t in tables),
                        record=meta.record.key,
                    )
                )
            else:
                matched += 1
            continue
        s = meta.stored
        suggestions = [
            ranked[0]  # each table ranks its own entries, best first
            for t in tables
            if (
                ranked := t.suggest(
                    title=str(s.get("title") or ""),
                    doc_type=s.get("doc_type"),
                    responsible=s.get("responsible"),
                    org_code=s.get("org_code"),
                )
            )
        ]
        if not suggestions:
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL,
                    message="题名、文种、责任者与三合一表的归档范围条目均不匹配，须人工判定是否属于归档范围",
                    file=meta.record.location,
                    field="题名",
                    found=clip(s.get("title") or ""),
                    rule="、".join(f"{t.id}@{t.version}" for t in tables),
                    record=meta.record.key,
                )
            )
            continue
        best = max(suggestions, key=lambda x: x.score)
        retention = None if "retention" in meta.bad else s.get("retention")
        if retention and retention != best.retention:
            out.append(
                Finding(
                    code=c,
                    status=Status.MANUAL,
                    message=f"归档范围条目 {best.entry_code}（{best.scope}）的保管期限为 {best.retention}，著录为 {retention}，须人工确认",
                    file=meta.record.location,
                    field="保管期限",
                    expected=best.retention,
                    found=str(retention),
                    rule=best.rule,
                    record=meta.record.key,
                )
            )
        else:
            matched += 1
    for cat in sorted(no_table):
        out.append(
            Finding(
                code=c,
                status=Status.MANUAL,
                message=f"门类「{cat}」没有现行的三合一表（归档范围），须人工判定",
                field="门类",
                found=cat,
            )
        )
    if not out:
        out.append(
            Finding(
                code=c,
                status=Status.PASSED,
                message=f"{matched} 条记录均属于三合一表规定的归档范围，保管期限相符",
            )
        )
    return out


# -- 2-10 信息包元数据完整性 -------------------------------------------------------------------------


@check("GD-2-10", "YJ-2-10")
def package_metadata_complete(ctx: CheckContext) -> list[Finding]:
    return _packaging.package_metadata_findings(ctx, code(ctx, "2-10"))
