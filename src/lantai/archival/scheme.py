"""Metadata schemes (DA/T 46 elements, DA/T 18-2022 obligations per level) and record checks.

``MetadataScheme.coerce`` turns what a person typed or a spreadsheet held into the stored form
(integers, canonical codes, YYYYMMDD dates); ``MetadataScheme.validate`` reports every problem of
a record at a level: 必著 items missing (GD-2-4), length (GD-1-2), type and format (GD-1-3), value
range (GD-1-4), plausibility (GD-1-5) and special characters (GD-1-6). Nothing here does I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lantai.archival.codes import CodeTable, fold
from lantai.archival.config import ElementSpec, SchemeFile
from lantai.archival.levels import Level
from lantai.errors import Problem

__all__ = [
    "OBLIGATION_LABELS",
    "Element",
    "MetadataScheme",
    "normalize_date",
    "special_character_problems",
]

OBLIGATION_LABELS = {"R": "必著", "C": "有则必著", "O": "选著"}

R_REQUIRED = "GD-2-4 必著项"
R_LENGTH = "GD-1-2 数据长度"
R_TYPE = "GD-1-3 数据类型与格式"
R_RANGE = "GD-1-4 值域"
R_PLAUSIBLE = "GD-1-5 数据值合理性"
R_CHARS = "GD-1-6 特殊字符"

_DATE_FORMS = (
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
)
_SPAN_PART = r"\d{4}(?:\d{2}(?:\d{2})?)?"
_SPAN = re.compile(rf"^({_SPAN_PART})(?:-({_SPAN_PART}))?$")
_SECURITY = re.compile(r"^(?P<base>[^★*]+?)(?:[★*](?P<term>\d{1,3}年|长期|永久))?$")


def normalize_date(text: str) -> str | None:
    """YYYYMMDD for a valid calendar date in a common written form; "[…]" kept for 考证 dates."""
    s = fold(text)
    inferred = s.startswith("[") and s.endswith("]")
    if inferred:
        s = s[1:-1].strip()
    for form in _DATE_FORMS:
        m = form.match(s)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                date(y, mo, d)
            except ValueError:
                return None
            out = f"{y:04d}{mo:02d}{d:02d}"
            return f"[{out}]" if inferred else out
    return None


def _span_bounds(text: str) -> tuple[str, str] | None:
    s = fold(text).strip("[]")
    m = _SPAN.match(s)
    if not m:
        return None
    start, end = m.group(1), m.group(2) or m.group(1)
    for part in (start, end):
        if len(part) >= 6 and not 1 <= int(part[4:6]) <= 12:
            return None
        if len(part) == 8:
            try:
                date(int(part[:4]), int(part[4:6]), int(part[6:8]))
            except ValueError:
                return None
    if start.ljust(8, "0") > end.ljust(8, "9"):
        return None
    return start, end


# Anything outside printable text: C0/C1 controls, surrogates, private use, U+FFFE/U+FFFF.
_SUSPECT = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffe\uffff\U000f0000-\U0010ffff]"
)


def special_character_problems(name: str, value: str, *, multiline: bool) -> list[Problem]:
    """GD-1-6: control characters, XML-illegal characters, surrogates and private-use characters."""
    if _SUSPECT.search(value) is None:
        return []
    bad: list[str] = []
    for ch in value:
        cp = ord(ch)
        cat = unicodedata.category(ch)
        if ch in "\t\n\r":
            if not multiline and ch != "\t":
                bad.append(f"换行符 U+{cp:04X}")
            continue
        if cat == "Cc":
            bad.append(f"控制字符 U+{cp:04X}")
        elif cat == "Cs" or cp in (0xFFFE, 0xFFFF):
            bad.append(f"非法字符 U+{cp:04X}")
        elif cat == "Co":
            bad.append(f"私用区字符 U+{cp:04X}（非 GB 18030 规范汉字）")
        if len(bad) >= 5:
            break
    if not bad:
        return []
    return [
        Problem(
            field=name, rule=R_CHARS, message="含不允许的字符：" + "、".join(dict.fromkeys(bad))
        )
    ]


@dataclass(frozen=True)
class Element:
    """One description element of a scheme."""

    key: str
    name: str
    type: str
    obligation: Mapping[str, str]
    aliases: tuple[str, ...] = ()
    area: str = ""
    dat46: str | None = None
    types_by_level: Mapping[str, str] = field(default_factory=dict)
    table: str | None = None
    max_length: int | None = None
    pattern: str | None = None
    min: int | None = None
    max: int | None = None
    default: str | None = None

    @classmethod
    def from_spec(cls, spec: ElementSpec) -> Element:
        return cls(
            key=spec.key,
            name=spec.name,
            type=spec.type,
            obligation={str(k): str(v) for k, v in spec.obligation.items()},
            aliases=spec.aliases,
            area=spec.area,
            dat46=spec.dat46,
            types_by_level={str(k): str(v) for k, v in spec.types_by_level.items()},
            table=spec.table,
            max_length=spec.max_length,
            pattern=spec.pattern,
            min=spec.min,
            max=spec.max,
            default=spec.default,
        )

    def type_at(self, level: Level) -> str:
        return self.types_by_level.get(level.value, self.type)

    def obligation_at(self, level: Level) -> str | None:
        return self.obligation.get(level.value)

    @property
    def multiline(self) -> bool:
        return self.type == "text"


class MetadataScheme:
    """A resolved scheme: the base elements with the category's own elements merged in."""

    def __init__(
        self,
        spec: SchemeFile,
        parents: list[SchemeFile],
        tables: Mapping[str, CodeTable],
    ) -> None:
        self.id = spec.id
        self.title = spec.title
        self.categories = spec.categories
        merged: dict[str, Element] = {}
        checks: list[str] = []
        for source in [*parents, spec]:
            for element_spec in source.elements:
                merged[element_spec.key] = Element.from_spec(element_spec)
            checks.extend(c for c in source.cross_checks if c not in checks)
        self.elements: tuple[Element, ...] = tuple(merged.values())
        self.cross_checks = tuple(checks)
        self._tables = tables
        self._by_key = merged
        self._by_name: dict[str, Element] = {}
        for e in self.elements:
            for n in (e.name, *e.aliases, e.key):
                self._by_name.setdefault(_header_key(n), e)
        # (element, obligation) per level, computed once: validate() runs for every record.
        self._by_level: dict[Level, tuple[tuple[Element, str], ...]] = {
            lv: tuple((e, ob) for e in self.elements if (ob := e.obligation_at(lv)) is not None)
            for lv in Level
        }

    def element(self, key: str) -> Element | None:
        return self._by_key.get(key)

    def element_by_name(self, name: str) -> Element | None:
        """Find an element by its Chinese name, an alias, or its key (spaces and brackets ignored)."""
        return self._by_name.get(_header_key(name))

    def elements_for(self, level: Level) -> list[Element]:
        return [e for e, _ in self._by_level[level]]

    def required_keys(self, level: Level) -> list[str]:
        return [e.key for e, ob in self._by_level[level] if ob == "R"]

    def defaults(self, level: Level) -> dict[str, str]:
        return {e.key: e.default for e in self.elements_for(level) if e.default is not None}

    # -- coercion -------------------------------------------------------------------------------

    def coerce(self, level: Level, key: str, raw: Any) -> tuple[Any, Problem | None]:
        """Convert one input value to its stored form. Empty input becomes None."""
        el = self._by_key.get(key)
        if el is None:
            return raw, None
        if raw is None:
            return None, None
        if isinstance(raw, str):
            text = raw.strip()
            if text == "":
                return None, None
        else:
            text = str(raw).strip()
        kind = el.type_at(level)
        if kind in ("integer", "year"):
            if isinstance(raw, bool):
                return raw, Problem(field=el.name, value=text, rule=R_TYPE, message="应为整数")
            if isinstance(raw, float) and raw.is_integer():
                return int(raw), None
            if isinstance(raw, int):
                return raw, None
            t = fold(text)
            if re.fullmatch(r"[+-]?\d+", t):
                return int(t), None
            return text, Problem(
                field=el.name, value=text, rule=R_TYPE, message=f"「{text}」不是整数"
            )
        if kind == "date":
            if hasattr(raw, "strftime"):
                return raw.strftime("%Y%m%d"), None
            norm = normalize_date(text)
            if norm is None:
                return text, Problem(
                    field=el.name,
                    value=text,
                    rule=R_TYPE,
                    message=f"「{text}」不是有效日期（应为 YYYYMMDD，如 20110305）",
                )
            return norm, None
        if kind == "date_span":
            if hasattr(raw, "strftime"):
                return raw.strftime("%Y%m%d"), None
            t = fold(text).replace("—", "-").replace("～", "-").replace("~", "-")
            single = normalize_date(t)
            if single is not None:
                return single, None
            if _span_bounds(t) is None:
                return text, Problem(
                    field=el.name,
                    value=text,
                    rule=R_TYPE,
                    message=f"「{text}」不是有效日期或起止日期（如 20110101-20111231）",
                )
            return t, None
        if kind == "code" and el.table:
            table = self._tables[el.table]
            code = table.normalize(text)
            if code is None:
                if table.open:
                    return text, None
                allowed = "、".join(table.codes(include_legacy=False))
                return text, Problem(
                    field=el.name,
                    value=text,
                    rule=R_RANGE,
                    message=f"「{text}」不在值域内（{allowed}）",
                )
            return code, None
        if kind == "security" and el.table:
            m = _SECURITY.match(fold(text))
            table = self._tables[el.table]
            base = table.normalize(m.group("base")) if m else None
            if m is None or base is None:
                allowed = "、".join(table.codes())
                return text, Problem(
                    field=el.name,
                    value=text,
                    rule=R_RANGE,
                    message=f"「{text}」不是有效密级（{allowed}，可带「★保密期限」）",
                )
            term = m.group("term")
            return (f"{base}★{term}" if term else base), None
        return text, None

    # -- validation -----------------------------------------------------------------------------

    def validate(
        self,
        level: Level,
        values: Mapping[str, Any],
        *,
        today: date,
        skip: frozenset[str] = frozenset(),
    ) -> list[Problem]:
        """Every problem with a record's (already coerced) values at ``level``.

        ``skip`` names elements whose input was already reported by :meth:`coerce`; their values
        are not checked again (their presence still counts for 必著).
        """
        problems: list[Problem] = []
        for el, ob in self._by_level[level]:
            v = values.get(el.key)
            empty = v is None or (isinstance(v, str) and not v.strip())
            if empty:
                if ob == "R":
                    problems.append(
                        Problem(
                            field=el.name,
                            rule=R_REQUIRED,
                            message=f"{level.label}级必著项「{el.name}」为空（DA/T 18-2022）",
                        )
                    )
                continue
            if el.key in skip:
                continue
            problems.extend(self._check_value(el, level, v))
        clean = {k: v for k, v in values.items() if k not in skip}
        problems.extend(self._cross_checks(level, clean, today))
        return problems

    def _check_value(self, el: Element, level: Level, v: Any) -> list[Problem]:
        out: list[Problem] = []
        kind = el.type_at(level)
        text = str(v)
        if isinstance(v, str):
            out.extend(special_character_problems(el.name, v, multiline=el.multiline))
        if el.max_length is not None and len(text) > el.max_length:
            out.append(
                Problem(
                    field=el.name,
                    rule=R_LENGTH,
                    message=f"长度 {len(text)} 超过上限 {el.max_length} 个字符",
                )
            )
        if kind in ("integer", "year"):
            if not isinstance(v, int) or isinstance(v, bool):
                out.append(
                    Problem(field=el.name, value=text, rule=R_TYPE, message=f"「{text}」不是整数")
                )
                return out
            lo, hi = (1000, 9999) if kind == "year" else (el.min, el.max)
            if lo is not None and v < lo:
                out.append(
                    Problem(
                        field=el.name, value=text, rule=R_PLAUSIBLE, message=f"{v} 小于下限 {lo}"
                    )
                )
            if hi is not None and v > hi:
                out.append(
                    Problem(
                        field=el.name, value=text, rule=R_PLAUSIBLE, message=f"{v} 超过上限 {hi}"
                    )
                )
        elif kind == "date":
            if normalize_date(text) != text:
                out.append(
                    Problem(
                        field=el.name,
                        value=text,
                        rule=R_TYPE,
                        message=f"「{text}」不是 YYYYMMDD 格式的有效日期",
                    )
                )
        elif kind == "date_span":
            if normalize_date(text) != text and _span_bounds(text) is None:
                out.append(
                    Problem(
                        field=el.name,
                        value=text,
                        rule=R_TYPE,
                        message=f"「{text}」不是有效的日期或起止日期",
                    )
                )
        elif kind == "code" and el.table:
            table = self._tables[el.table]
            if text not in table and not table.open:
                out.append(
                    Problem(
                        field=el.name,
                        value=text,
                        rule=R_RANGE,
                        message=f"「{text}」不在「{table.title}」值域内",
                    )
                )
        elif kind == "security" and el.table:
            m = _SECURITY.match(text)
            if m is None or m.group("base") not in self._tables[el.table]:
                out.append(
                    Problem(
                        field=el.name, value=text, rule=R_RANGE, message=f"「{text}」不是有效密级"
                    )
                )
        if (
            el.pattern is not None
            and kind in ("string", "text")
            and not re.fullmatch(el.pattern, text)
        ):
            out.append(
                Problem(
                    field=el.name,
                    value=text,
                    rule=R_TYPE,
                    message=f"「{text}」不符合格式 {el.pattern}",
                )
            )
        return out

    def _cross_checks(self, level: Level, values: Mapping[str, Any], today: date) -> list[Problem]:
        out: list[Problem] = []
        year = values.get("year")
        raw_date = values.get("date")
        date_el = self._by_key.get("date")
        date_name = date_el.name if date_el else "日期"
        bounds = _span_bounds(str(raw_date)) if isinstance(raw_date, str) and raw_date else None
        if (
            "date_matches_year" in self.cross_checks
            and isinstance(year, int)
            and bounds
            and not int(bounds[0][:4]) <= year <= int(bounds[1][:4])
        ):
            out.append(
                Problem(
                    field=date_name,
                    value=str(raw_date),
                    rule=R_PLAUSIBLE,
                    message=f"日期「{raw_date}」与年度 {year} 不一致",
                )
            )
        if (
            "not_in_future" in self.cross_checks
            and bounds
            and bounds[1][:8] > today.strftime("%Y%m%d")[: len(bounds[1])]
        ):
            out.append(
                Problem(
                    field=date_name,
                    value=str(raw_date),
                    rule=R_PLAUSIBLE,
                    message=f"日期「{raw_date}」晚于今天",
                )
            )
        if (
            "year_not_in_future" in self.cross_checks
            and isinstance(year, int)
            and year > today.year
        ):
            out.append(
                Problem(
                    field="年度", value=str(year), rule=R_PLAUSIBLE, message=f"年度 {year} 晚于今年"
                )
            )
        return out


def _header_key(name: str) -> str:
    s = fold(name)
    return re.sub(r"[\s()（）\[\]【】:：*＊]", "", s).lower()
