"""The sender's metadata seen through the catalogue's own rules, worked out once per run.

DA/T 70 asks for the metadata items (1-2 … 1-8, 2-3 … 2-6) to be checked against **both** the
information package as sent and the catalogue database as it would stand after acceptance
(standards digest §1.2 a/b). :func:`analyse` does the work once for every record and caches it in
``ctx.cache``:

- *as stored*: scheme defaults applied, every value converted by
  :meth:`Catalogue.coerce_values` (→ :meth:`MetadataScheme.coerce`), 年度 taken from 日期 when
  absent, then :meth:`MetadataScheme.validate` — exactly what ``Catalogue.create_record`` would
  refuse, so these problems are 不通过;
- *as sent*: the same without defaults or derived values; a problem found only here (a 必著 item
  the package leaves empty but the catalogue fills with its default) is 人工复核.

:func:`findings_for_rule` turns the problems of one rule (``R_LENGTH`` … ``R_REQUIRED``) into
findings with their evidence: record, file (where the description is), field, expected, found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lantai.archival import CodeRule, Level, MetadataScheme
from lantai.archival.scheme import (
    R_CHARS,
    R_LENGTH,
    R_PLAUSIBLE,
    R_RANGE,
    R_REQUIRED,
    R_TYPE,
)
from lantai.errors import Problem
from lantai.ingest.checks._core import CheckContext, Finding, Status
from lantai.ingest.checks._evidence import clip, code, reader_findings
from lantai.ingest.transfer import TransferRecord

__all__ = [
    "ELECTRONIC_LABELS",
    "ELECTRONIC_NAMES",
    "PLACEMENT_KEYS",
    "RecordMetadata",
    "analyse",
    "category_of",
    "code_rule_for",
    "code_values",
    "electronic_value",
    "findings_for_rule",
]

# Keys a reader may put among a record's values that place it rather than describe it.
PLACEMENT_KEYS = frozenset({"category", "fonds_code"})

_TYPE_LABELS = {
    "integer": "整数",
    "year": "4 位数字的年度（如 2011）",
    "date": "YYYYMMDD 格式的有效日期（如 20110305）",
    "date_span": "日期或起止日期（如 20110101-20111231）",
    "security": "密级代码，可带「★保密期限」",
}


@dataclass
class RecordMetadata:
    """One record's metadata as sent and as it would be stored, with the problems of each."""

    record: TransferRecord
    level: Level
    category: str | None
    scheme: MetadataScheme
    sent: dict[str, Any]  # the sender's values for scheme elements (empty ones included)
    unknown: tuple[str, ...]  # value keys the scheme does not know
    stored: dict[str, Any]  # as the catalogue would store them
    bad: frozenset[str]  # keys whose value could not be converted
    problems: list[Problem]  # problems of the stored form (database target)
    package_only: list[Problem]  # problems of the sent form that the stored form does not have


def category_of(ctx: CheckContext, record: TransferRecord | None = None) -> str | None:
    """The 门类 code a record goes to: its own value, the transfer's target, the register's."""
    table = ctx.inst.domain.table("category")
    register = ctx.transfer.register
    candidates = [
        record.values.get("category") if record is not None else None,
        ctx.transfer.category,
        register.category if register is not None else None,
    ]
    for raw in candidates:
        if raw is not None and str(raw).strip():
            found = table.normalize(str(raw))
            if found is not None:
                return found
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _analyse_one(ctx: CheckContext, record: TransferRecord) -> RecordMetadata:
    category = category_of(ctx, record)
    scheme = ctx.inst.domain.scheme_for(category)
    level = record.level
    sent: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in record.values.items():
        if key in PLACEMENT_KEYS:
            continue
        if scheme.element(key) is None:
            unknown.append(key)
        else:
            sent[key] = value
    catalogue = ctx.inst.catalogue
    present = {k: v for k, v in sent.items() if not _blank(v)}

    raw = {**scheme.defaults(level), **present}
    stored, coerce_problems, bad = catalogue.coerce_values(scheme, level, raw)
    if level is Level.ITEM and stored.get("year") is None and isinstance(stored.get("date"), str):
        digits = stored["date"].strip("[]")[:4]
        if digits.isdigit():
            stored["year"] = int(digits)  # as Catalogue.create_record derives it
    problems = coerce_problems + scheme.validate(level, stored, today=ctx.today, skip=bad)

    # The package as sent differs from the stored form only in the items the catalogue fills
    # (scheme defaults, 年度 from 日期): where those are 必著, the package leaves them empty.
    filled = {k for k, v in stored.items() if v is not None and k not in present}
    package_only: list[Problem] = []
    if filled:
        names = {el.name for k in filled if (el := scheme.element(k)) is not None}
        package_only = [p for p in _empty_record_problems(ctx, scheme, level) if p.field in names]
    return RecordMetadata(
        record=record,
        level=level,
        category=category,
        scheme=scheme,
        sent=sent,
        unknown=tuple(unknown),
        stored=stored,
        bad=bad,
        problems=problems,
        package_only=package_only,
    )


def _empty_record_problems(
    ctx: CheckContext, scheme: MetadataScheme, level: Level
) -> list[Problem]:
    """The scheme's 必著 problems of a record with no values (cached per scheme and level)."""
    cache: dict[tuple[str, Level], list[Problem]] = ctx.cache.setdefault("empty_problems", {})
    key = (scheme.id, level)
    if key not in cache:
        cache[key] = [
            p for p in scheme.validate(level, {}, today=ctx.today) if p.rule == R_REQUIRED
        ]
    return cache[key]


def analyse(ctx: CheckContext) -> list[RecordMetadata]:
    """Every record of the transfer, analysed once per run (cached in ``ctx.cache``)."""
    cached = ctx.cache.get("metadata")
    if cached is None:
        cached = [_analyse_one(ctx, r) for r in ctx.transfer.records]
        ctx.cache["metadata"] = cached
    return cached


def code_values(ctx: CheckContext, meta: RecordMetadata) -> dict[str, Any]:
    """The record's convertible stored values plus 全宗号 and 门类, as ``CodeRule`` expects them."""
    clean = {k: v for k, v in meta.stored.items() if k not in meta.bad}
    fonds = ctx.transfer.fonds_code or meta.record.values.get("fonds_code")
    return {**clean, "fonds_code": fonds, "category": meta.category}


def code_rule_for(ctx: CheckContext, meta: RecordMetadata) -> CodeRule | None:
    """The 档号 rule the record will be numbered by (its parent is a 类别, as ingest files it)."""
    if meta.category is None or meta.level not in (Level.FILE, Level.ITEM):
        return None
    fonds = ctx.transfer.fonds_code or meta.record.values.get("fonds_code")
    return ctx.inst.domain.codes.rule_for(
        fonds_code=str(fonds or ""),
        category=meta.category,
        level=meta.level,
        parent_level=Level.SERIES,
    )


# DA/T 46 电子属性 (M46) of one file, by the names a reader may use for them.
ELECTRONIC_NAMES: dict[str, tuple[str, ...]] = {
    "format": ("格式信息", "计算机文件格式", "format", "file_format"),
    "name": ("计算机文件名", "file_name", "filename", "name"),
    "size": ("计算机文件大小", "file_size", "size"),
    "creator": ("文档创建程序", "creating_application", "creator", "application"),
}
ELECTRONIC_LABELS = {
    "format": "格式信息",
    "name": "计算机文件名",
    "size": "计算机文件大小",
    "creator": "文档创建程序",
}


def electronic_value(record: TransferRecord, path: str, prop: str) -> tuple[bool, Any]:
    """(declared?, value) of one 电子属性 of one file of ``record``.

    Looks in the record's 电子属性 block for the file, then — for a record with a single file —
    in the record-level elements 计算机文件大小 / 计算机文件格式.
    """
    block = record.electronic.get(path) or {}
    for name in ELECTRONIC_NAMES[prop]:
        if name in block:
            return True, block[name]
    if len(record.files) == 1:
        key = {"size": "file_size", "format": "file_format"}.get(prop)
        if key is not None and key in record.values:
            return True, record.values[key]
    return False, None


def _expected(ctx: CheckContext, meta: RecordMetadata, problem: Problem) -> str | None:
    el = meta.scheme.element_by_name(problem.field) if problem.field else None
    rule = problem.rule
    if rule == R_REQUIRED:
        return "非空"
    if rule == R_CHARS:
        return "不含控制字符、XML 非法字符、代理区及私用区字符"
    if el is None:
        return None
    if rule == R_LENGTH and el.max_length is not None:
        return f"不超过 {el.max_length} 个字符"
    if rule == R_TYPE:
        kind = el.type_at(meta.level)
        if el.pattern and kind in ("string", "text"):
            return f"符合格式 {el.pattern}"
        return _TYPE_LABELS.get(kind)
    if rule == R_RANGE and el.table:
        table = ctx.inst.domain.table(el.table)
        return clip("、".join(table.codes(include_legacy=False)), 120)
    if rule == R_PLAUSIBLE:
        if el.min is not None or el.max is not None:
            lo = "" if el.min is None else str(el.min)
            hi = "" if el.max is None else str(el.max)
            return f"{lo}～{hi}"
        if el.key == "date":
            return "与年度一致且不晚于检测日"
        if el.key == "year":
            return "不晚于检测年度"
    return None


def _found(meta: RecordMetadata, problem: Problem) -> str | None:
    if problem.value is not None:
        return clip(problem.value)
    el = meta.scheme.element_by_name(problem.field) if problem.field else None
    if el is None:
        return None
    value = meta.sent.get(el.key)
    if _blank(value):
        return "（空）" if problem.rule == R_REQUIRED else None
    text = str(value)
    if problem.rule == R_LENGTH:
        return f"{len(text)} 个字符：{clip(text, 60)}"
    return clip(text)


def _finding(
    ctx: CheckContext, suffix: str, meta: RecordMetadata, problem: Problem, status: Status
) -> Finding:
    message = problem.message
    if status is Status.MANUAL:
        message = f"信息包中：{message}（入库时按著录方案取默认值或推导，须人工确认）"
    return Finding(
        code=code(ctx, suffix),
        status=status,
        message=message,
        file=meta.record.location,
        field=problem.field,
        expected=_expected(ctx, meta, problem),
        found=_found(meta, problem),
        rule=problem.rule,
        record=meta.record.key,
    )


def findings_for_rule(ctx: CheckContext, suffix: str, rule: str, what: str) -> list[Finding]:
    """The findings of one scheme rule over every record; one 通过 summary when there are none.

    ``what`` names the property checked, for the summary ("元数据项长度").
    """
    metas = analyse(ctx)
    if not metas:
        return [
            Finding(
                code=code(ctx, suffix),
                status=Status.NOT_APPLICABLE,
                message="信息包中没有元数据记录",
            )
        ]
    out: list[Finding] = reader_findings(ctx, suffix)
    for meta in metas:
        out.extend(
            _finding(ctx, suffix, meta, p, Status.FAILED) for p in meta.problems if p.rule == rule
        )
        out.extend(
            _finding(ctx, suffix, meta, p, Status.MANUAL)
            for p in meta.package_only
            if p.rule == rule
        )
    if not out:
        out.append(
            Finding(
                code=code(ctx, suffix),
                status=Status.PASSED,
                message=f"{len(metas)} 条记录的{what}均符合著录方案",
                rule=rule,
            )
        )
    return out
