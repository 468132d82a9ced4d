"""Schemas of the domain data files, and the loader that validates them.

The package ships the defaults in ``lantai/archival/data``; an instance may add or override
entries with files of the same names in its config directory. Every problem found at load names
the file, the path inside it and the rule, and the whole load fails: a half-valid domain is never
used.
"""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lantai.datafiles import read_yaml, validate_model
from lantai.errors import ConfigError, Problem

__all__ = [
    "ArchivalCodesFile",
    "AssignmentSpec",
    "ClassificationFile",
    "CodeEntrySpec",
    "CodeTableSpec",
    "CodesFile",
    "ElementSpec",
    "FieldSpec",
    "Obligation",
    "RawDomain",
    "RuleSpec",
    "SchemeFile",
    "SegmentSpec",
    "load_raw_domain",
]

LevelName = Literal["fonds", "series", "file", "item"]
Obligation = Literal["R", "C", "O"]
ElementType = Literal[
    "string", "text", "integer", "year", "date", "date_span", "code", "security", "archival_code"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- code tables ------------------------------------------------------------------------------


class CodeEntrySpec(_Strict):
    code: str = Field(min_length=1, max_length=32)
    label: str = ""
    aliases: tuple[str, ...] = ()
    rank: int | None = None
    years: int | None = None
    legacy: bool = False


class CodeTableSpec(_Strict):
    title: str
    open: bool = False
    entries: tuple[CodeEntrySpec, ...]

    @model_validator(mode="after")
    def _unique(self) -> CodeTableSpec:
        seen: set[str] = set()
        for e in self.entries:
            for name in (e.code, *e.aliases):
                if name in seen:
                    raise ValueError(f"代码或别名「{name}」重复")
                seen.add(name)
        return self


class CodesFile(_Strict):
    version: int
    tables: dict[str, CodeTableSpec]


# --- 档号 rules ----------------------------------------------------------------------------------


class FieldSpec(_Strict):
    label: str
    pattern: str | None = None
    table: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.pattern is None) == (self.table is None):
            raise ValueError("须且仅须给出 pattern 或 table 之一")
        if self.pattern is not None:
            re.compile(self.pattern)
        return self


class SegmentSpec(_Strict):
    kind: Literal["field", "literal", "counter", "parent"]
    name: str = ""
    value: str = ""
    label: str = ""
    width: int = 0
    start: int = 1
    optional: bool = False

    @classmethod
    def parse(cls, raw: Any) -> SegmentSpec:
        if isinstance(raw, str):
            return cls(kind="field", name=raw)
        if not isinstance(raw, dict):
            raise ValueError("段须为字段名或映射")
        raw = dict(raw)
        if "field" in raw:
            return cls(kind="field", name=raw.pop("field"), optional=raw.pop("optional", False))
        if "literal" in raw:
            value = str(raw.pop("literal"))
            if not value or "-" in value or "·" in value:
                raise ValueError("字面量不能为空，也不能含分隔符「-」「·」")
            return cls(kind="literal", value=value)
        if "counter" in raw:
            width = int(raw.pop("width", 4))
            start = int(raw.pop("start", 1))
            if not 1 <= width <= 9 or start < 0:
                raise ValueError("计数段 width 须在 1–9，start 须 ≥ 0")
            return cls(
                kind="counter",
                name=raw.pop("counter"),
                label=raw.pop("label", ""),
                width=width,
                start=start,
            )
        if raw.pop("parent", False):
            return cls(kind="parent")
        raise ValueError("段须含 field、literal、counter 或 parent 之一")


class RuleSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    example: str | None = None
    levels: tuple[tuple[SegmentSpec, ...], ...]

    @field_validator("levels", mode="before")
    @classmethod
    def _parse_levels(cls, raw: Any) -> Any:
        if not isinstance(raw, list) or not raw:
            raise ValueError("levels 须为非空列表")
        out = []
        for level in raw:
            if not isinstance(level, list) or not level:
                raise ValueError("每一级须为非空的段列表")
            out.append(tuple(SegmentSpec.parse(s) for s in level))
        return tuple(out)

    @model_validator(mode="after")
    def _shape(self) -> RuleSpec:
        flat = [s for lvl in self.levels for s in lvl]
        counters = [s for s in flat if s.kind == "counter"]
        if len(counters) != 1 or self.levels[-1] != (counters[0],):
            raise ValueError("规则须恰有一个计数段，且单独构成最后一级")
        for level in self.levels:
            if level[0].optional and not all(s.optional for s in level):
                raise ValueError("可省略的段不能位于一级的首位（其后还有必备段时）")
        parents = [s for s in flat if s.kind == "parent"]
        if parents and self.levels[0] != (parents[0],):
            raise ValueError("parent 段须单独构成第一级")
        if len(parents) > 1:
            raise ValueError("parent 段只能出现一次")
        return self


class AssignmentSpec(_Strict):
    rule: str
    fonds: str = "*"
    category: str = "*"
    level: Literal["file", "item"]
    parent_level: Literal["series", "file", "*"] = "*"


class ArchivalCodesFile(_Strict):
    version: int
    fields: dict[str, FieldSpec]
    rules: tuple[RuleSpec, ...]
    assignments: tuple[AssignmentSpec, ...]


# --- metadata schemes ---------------------------------------------------------------------------


class ElementSpec(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    aliases: tuple[str, ...] = ()
    area: str = ""
    dat46: str | None = None
    type: ElementType
    types_by_level: dict[LevelName, ElementType] = {}
    table: str | None = None
    max_length: int | None = Field(None, gt=0)
    pattern: str | None = None
    min: int | None = None
    max: int | None = None
    default: str | None = None
    obligation: dict[LevelName, Obligation]

    @model_validator(mode="after")
    def _consistent(self) -> ElementSpec:
        needs_table = {"code", "security"}
        types = {self.type, *self.types_by_level.values()}
        if types & needs_table and not self.table:
            raise ValueError(f"类型 {self.type} 须指定 table")
        if self.pattern is not None:
            re.compile(self.pattern)
        return self


class SchemeFile(_Strict):
    id: str
    title: str
    extends: str | None = None
    categories: tuple[str, ...] = ()
    elements: tuple[ElementSpec, ...]
    cross_checks: tuple[
        Literal["date_matches_year", "not_in_future", "year_not_in_future"], ...
    ] = ()

    @model_validator(mode="after")
    def _unique_keys(self) -> SchemeFile:
        keys = [e.key for e in self.elements]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ValueError(f"元素键重复：{', '.join(sorted(dup))}")
        return self


# --- 三合一 ----------------------------------------------------------------------------------------


class MatchSpec(_Strict):
    source: Literal["own", "superior", "subordinate", "other"] | None = None
    doc_types: tuple[str, ...] = ()
    title_any: tuple[str, ...] = ()
    title_all: tuple[str, ...] = ()
    title_none: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()


class ClassSpec(_Strict):
    code: str
    name: str
    org_code: str | None = None


class EntrySpec(_Strict):
    code: str
    scope: str
    retention: str
    class_: str | None = Field(None, alias="class")
    category: str | None = None
    priority: int = 50
    match: MatchSpec = MatchSpec()


class PartiesSpec(_Strict):
    own: tuple[str, ...] = ()
    superior: tuple[str, ...] = ()
    subordinate: tuple[str, ...] = ()


class ClassificationFile(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    version: str
    effective_from: date
    approved_by: str = ""
    basis: str = ""
    category: str
    parties: PartiesSpec = PartiesSpec()
    classes: tuple[ClassSpec, ...] = ()
    entries: tuple[EntrySpec, ...]

    @model_validator(mode="after")
    def _refs(self) -> ClassificationFile:
        classes = {c.code for c in self.classes}
        codes = [e.code for e in self.entries]
        dup = {c for c in codes if codes.count(c) > 1}
        if dup:
            raise ValueError(f"类目号重复：{', '.join(sorted(dup))}")
        for e in self.entries:
            if e.class_ is not None and e.class_ not in classes:
                raise ValueError(f"类目 {e.code} 引用了未定义的分类「{e.class_}」")
        return self


# --- loading ------------------------------------------------------------------------------------


class RawDomain(BaseModel):
    """The validated, merged content of all domain data files (not yet compiled)."""

    model_config = ConfigDict(frozen=True)

    codes: CodesFile
    archival_codes: ArchivalCodesFile
    schemes: tuple[SchemeFile, ...]
    classifications: tuple[ClassificationFile, ...]
    sources: tuple[str, ...]


def _shipped_dir() -> Path:
    return Path(str(resources.files("lantai.archival") / "data"))


def _merge_codes(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    tables = dict(base.get("tables") or {})
    for name, spec in (extra.get("tables") or {}).items():
        if name not in tables or not isinstance(spec, dict):
            tables[name] = spec
            continue
        merged = dict(tables[name])
        entries = {e["code"]: e for e in merged.get("entries", []) if isinstance(e, dict)}
        for e in spec.get("entries", []) or []:
            if isinstance(e, dict) and "code" in e:
                entries[e["code"]] = e
        merged.update({k: v for k, v in spec.items() if k != "entries"})
        merged["entries"] = list(entries.values())
        tables[name] = merged
    return {**base, "tables": tables}


def _merge_archival_codes(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    fields = {**(base.get("fields") or {}), **(extra.get("fields") or {})}
    rules = {r.get("id"): r for r in base.get("rules") or [] if isinstance(r, dict)}
    for r in extra.get("rules") or []:
        if isinstance(r, dict):
            rules[r.get("id")] = r
    # Instance assignments come first: they are more specific by intent.
    assignments = list(extra.get("assignments") or []) + list(base.get("assignments") or [])
    return {
        "version": base.get("version", 1),
        "fields": fields,
        "rules": list(rules.values()),
        "assignments": assignments,
    }


def load_raw_domain(config_dir: Path | None = None) -> RawDomain:
    """Read, merge and validate the shipped domain data and the instance overrides.

    Raises :class:`ConfigError` with every problem found (file, path, rule) if anything is wrong.
    """
    problems: list[Problem] = []
    shipped = _shipped_dir()
    sources: list[str] = []
    instance = config_dir if config_dir is not None and config_dir.is_dir() else None

    def read_pair(name: str) -> tuple[dict[str, Any], Path]:
        path = shipped / name
        data = read_yaml(path, problems) or {}
        sources.append(str(path))
        if instance is not None and (instance / name).is_file():
            extra = read_yaml(instance / name, problems) or {}
            sources.append(str(instance / name))
            if not isinstance(extra, dict):
                problems.append(Problem(file=str(instance / name), message="顶层须为映射"))
                extra = {}
            merge = _merge_codes if name == "codes.yaml" else _merge_archival_codes
            return merge(data, extra), instance / name
        return data, path

    codes_data, codes_path = read_pair("codes.yaml")
    codes = validate_model(CodesFile, codes_data, codes_path, problems)
    ac_data, ac_path = read_pair("archival_codes.yaml")
    archival_codes = validate_model(ArchivalCodesFile, ac_data, ac_path, problems)

    def read_dir(sub: str, model: type[BaseModel]) -> list[tuple[Any, Path]]:
        found: dict[str, Path] = {p.name: p for p in sorted((shipped / sub).glob("*.yaml"))}
        if instance is not None and (instance / sub).is_dir():
            found.update({p.name: p for p in sorted((instance / sub).glob("*.yaml"))})
        out = []
        for path in found.values():
            sources.append(str(path))
            parsed = validate_model(model, read_yaml(path, problems), path, problems)
            if parsed is not None:
                out.append((parsed, path))
        return out

    schemes = read_dir("schemes", SchemeFile)
    classifications = read_dir("classification", ClassificationFile)

    if codes is not None and archival_codes is not None:
        _check_references(codes, archival_codes, schemes, classifications, ac_path, problems)
    if problems:
        raise ConfigError("领域配置文件校验失败，系统未加载任何配置", problems)
    return RawDomain(
        codes=codes,
        archival_codes=archival_codes,
        schemes=tuple(s for s, _ in schemes),
        classifications=tuple(c for c, _ in classifications),
        sources=tuple(sources),
    )


def _check_references(
    codes: CodesFile,
    ac: ArchivalCodesFile,
    schemes: list[tuple[SchemeFile, Path]],
    classifications: list[tuple[ClassificationFile, Path]],
    ac_path: Path,
    problems: list[Problem],
) -> None:
    """Cross-file references: tables, rule ids, field names, scheme parents, retention codes."""
    tables = codes.tables
    for required in ("category", "retention", "security_level", "open_status", "level"):
        if required not in tables:
            problems.append(
                Problem(file="codes.yaml", field=f"tables.{required}", message="缺少必需的代码表")
            )
    categories = {e.code for e in tables["category"].entries} if "category" in tables else set()
    retention = {e.code for e in tables["retention"].entries} if "retention" in tables else set()

    for name, f in ac.fields.items():
        if f.table is not None and f.table not in tables:
            problems.append(
                Problem(
                    file=str(ac_path),
                    field=f"fields.{name}.table",
                    message=f"代码表「{f.table}」不存在",
                )
            )
    implicit = {"fonds_code", "category"}
    rule_ids: set[str] = set()
    for i, rule in enumerate(ac.rules):
        if rule.id in rule_ids:
            problems.append(
                Problem(
                    file=str(ac_path), field=f"rules[{i}].id", message=f"规则编号「{rule.id}」重复"
                )
            )
        rule_ids.add(rule.id)
        for j, level in enumerate(rule.levels):
            for k, seg in enumerate(level):
                if seg.kind == "field" and seg.name not in ac.fields and seg.name not in implicit:
                    problems.append(
                        Problem(
                            file=str(ac_path),
                            field=f"rules[{i}].levels[{j}][{k}]",
                            message=f"字段「{seg.name}」未在 fields 中定义",
                        )
                    )
    for i, a in enumerate(ac.assignments):
        if a.rule not in rule_ids:
            problems.append(
                Problem(
                    file=str(ac_path),
                    field=f"assignments[{i}].rule",
                    message=f"规则「{a.rule}」不存在",
                )
            )
        if a.category != "*" and a.category not in categories:
            problems.append(
                Problem(
                    file=str(ac_path),
                    field=f"assignments[{i}].category",
                    message=f"门类代码「{a.category}」不在门类代码表中",
                )
            )

    by_id = {s.id: (s, p) for s, p in schemes}
    for scheme, path in schemes:
        if scheme.extends is not None and scheme.extends not in by_id:
            problems.append(
                Problem(
                    file=str(path),
                    field="extends",
                    message=f"被继承的方案「{scheme.extends}」不存在",
                )
            )
        for cat in scheme.categories:
            if cat not in categories:
                problems.append(
                    Problem(
                        file=str(path),
                        field="categories",
                        message=f"门类代码「{cat}」不在门类代码表中",
                    )
                )
        for i, el in enumerate(scheme.elements):
            if el.table is not None and el.table not in tables:
                problems.append(
                    Problem(
                        file=str(path),
                        field=f"elements[{i}].table",
                        message=f"代码表「{el.table}」不存在",
                    )
                )
    claimed: dict[str, str] = {}
    for scheme, path in schemes:
        for cat in scheme.categories:
            if cat in claimed:
                problems.append(
                    Problem(
                        file=str(path),
                        field="categories",
                        message=f"门类「{cat}」已由方案「{claimed[cat]}」定义",
                    )
                )
            claimed[cat] = scheme.id

    for table, path in classifications:
        if table.category not in categories:
            problems.append(
                Problem(
                    file=str(path),
                    field="category",
                    message=f"门类代码「{table.category}」不在门类代码表中",
                )
            )
        for i, e in enumerate(table.entries):
            if e.retention not in retention:
                problems.append(
                    Problem(
                        file=str(path),
                        field=f"entries[{i}].retention",
                        message=f"保管期限代码「{e.retention}」不在保管期限代码表中",
                    )
                )
            if e.category is not None and e.category not in categories:
                problems.append(
                    Problem(
                        file=str(path),
                        field=f"entries[{i}].category",
                        message=f"门类代码「{e.category}」不在门类代码表中",
                    )
                )
