"""档号 rules (DA/T 22-2015, DA/T 13-2022): render, parse and check reference codes.

A compiled :class:`CodeRule` renders the *prefix* of a code from a record's values (everything
before the counter), formats a counter value into a full code, and parses or checks a code with a
regular expression built from the same segments. Counters themselves are allocated by the store,
inside the transaction that writes the record (see ``lantai.catalogue.codes``).

>>> rule.render_prefix({"fonds_code": "Z109", "category": "WS", "year": 2011,
...                     "retention": "Y", "org_code": "BGS"})
'Z109-WS·2011-Y-BGS'
>>> rule.format("Z109-WS·2011-Y-BGS", 1)
'Z109-WS·2011-Y-BGS-0001'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lantai.archival.config import AssignmentSpec, FieldSpec, RuleSpec, SegmentSpec
from lantai.archival.levels import Level
from lantai.errors import Problem

__all__ = ["LEVEL_SEP", "SEGMENT_SEP", "CodeRule", "CodeRuleBook", "ParsedCode"]

LEVEL_SEP = "-"
SEGMENT_SEP = "·"  # U+00B7 MIDDLE DOT
# Look-alikes people type instead of U+00B7; reported with a precise message.
_DOT_LOOKALIKES = {"•": "U+2022", "．": "U+FF0E", "・": "U+30FB", "∙": "U+2219", "⋅": "U+22C5"}
RULE_NAME = "GD-1-7 档号规范性"


@dataclass(frozen=True)
class ParsedCode:
    """The parts of a parsed 档号: field values, the counter value and the parent code."""

    rule_id: str
    values: dict[str, str]
    counter: int
    prefix: str
    parent: str | None


class CodeRule:
    """One compiled 档号 rule."""

    def __init__(
        self,
        spec: RuleSpec,
        field_patterns: Mapping[str, str],
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.id = spec.id
        self._labels = dict(labels or {})
        self.title = spec.title
        self.example = spec.example
        self.levels = spec.levels
        segments = [s for lvl in spec.levels for s in lvl]
        self.counter: SegmentSpec = next(s for s in segments if s.kind == "counter")
        self.has_parent = any(s.kind == "parent" for s in segments)
        self.fields: tuple[str, ...] = tuple(s.name for s in segments if s.kind == "field")
        self.required_fields: tuple[str, ...] = tuple(
            s.name for s in segments if s.kind == "field" and not s.optional
        )
        self._patterns = {name: field_patterns[name] for name in self.fields}
        self._regex = re.compile(self._build_regex())
        self._prefix_regex = re.compile(self._build_regex(prefix_only=True))

    @property
    def counter_label(self) -> str:
        return self.counter.label or self.counter.name

    def label(self, name: str) -> str:
        return self._labels.get(name, name)

    # -- regular expression ---------------------------------------------------------------------

    def _segment_regex(self, seg: SegmentSpec) -> str:
        if seg.kind == "field":
            return f"(?P<{seg.name}>{self._patterns[seg.name]})"
        if seg.kind == "literal":
            return re.escape(seg.value)
        if seg.kind == "counter":
            return f"(?P<_counter>[0-9]{{{seg.width}}})"
        return "(?P<_parent>.+)"

    def _build_regex(self, *, prefix_only: bool = False) -> str:
        out = ""
        levels = self.levels[:-1] if prefix_only else self.levels
        for i, level in enumerate(levels):
            part = ""
            for j, seg in enumerate(level):
                piece = self._segment_regex(seg)
                if j > 0:
                    piece = re.escape(SEGMENT_SEP) + piece
                part += f"(?:{piece})?" if seg.optional and j > 0 else piece
            if i > 0:
                part = re.escape(LEVEL_SEP) + part
            if all(s.optional for s in level):
                part = f"(?:{part})?"
            out += part
        return f"^{out}$"

    # -- rendering ------------------------------------------------------------------------------

    def render_prefix(self, values: Mapping[str, Any], parent_code: str | None = None) -> str:
        """The code without its counter. Raises ValueError naming the missing or invalid fields."""
        problems = self.check_values(values, parent_code)
        if problems:
            raise ValueError("；".join(p.message for p in problems))
        parts: list[str] = []
        for level in self.levels[:-1]:
            segs: list[str] = []
            for seg in level:
                if seg.kind == "parent":
                    segs.append(str(parent_code))
                elif seg.kind == "literal":
                    segs.append(seg.value)
                elif seg.kind == "field":
                    v = _text(values.get(seg.name))
                    if v:
                        segs.append(v)
            if segs:
                parts.append(SEGMENT_SEP.join(segs))
        return LEVEL_SEP.join(parts)

    def check_values(
        self, values: Mapping[str, Any], parent_code: str | None = None
    ) -> list[Problem]:
        """Problems that prevent rendering: missing required fields, values outside the pattern."""
        problems: list[Problem] = []
        if self.has_parent and not parent_code:
            problems.append(
                Problem(field="档号", rule=RULE_NAME, message="上级案卷尚无档号，无法生成卷内档号")
            )
        for name in self.fields:
            v = _text(values.get(name))
            if not v:
                if name in self.required_fields:
                    problems.append(
                        Problem(
                            field=self.label(name),
                            rule=RULE_NAME,
                            message=f"生成档号需要「{self.label(name)}」，但该项为空",
                        )
                    )
                continue
            if not re.fullmatch(self._patterns[name], v):
                problems.append(
                    Problem(
                        field=self.label(name),
                        rule=RULE_NAME,
                        value=v,
                        message=f"「{v}」不符合档号中「{self.label(name)}」段的格式",
                    )
                )
        return problems

    def format(self, prefix: str, counter: int) -> str:
        if counter < 0 or counter >= 10**self.counter.width:
            raise ValueError(f"{self.counter_label} {counter} 超出 {self.counter.width} 位的范围")
        return (
            f"{prefix}{LEVEL_SEP}{counter:0{self.counter.width}d}"
            if prefix
            else f"{counter:0{self.counter.width}d}"
        )

    def group_key(self, prefix: str) -> str:
        """The counter group: counters are consecutive within one rule and one prefix."""
        return f"{self.id}|{prefix}"

    # -- parsing and checking --------------------------------------------------------------------

    def parse(self, code: str) -> ParsedCode | None:
        m = self._regex.match(code)
        if m is None:
            return None
        values = {k: v for k, v in m.groupdict().items() if v is not None and not k.startswith("_")}
        counter_text = m.group("_counter")
        prefix = code[: len(code) - len(counter_text) - (1 if len(code) > len(counter_text) else 0)]
        parent = m.groupdict().get("_parent")
        return ParsedCode(self.id, values, int(counter_text), prefix, parent)

    def check(
        self,
        code: str,
        values: Mapping[str, Any] | None = None,
        parent_code: str | None = None,
    ) -> list[Problem]:
        """GD-1-7: the code matches the rule and agrees with the record's own values."""
        problems: list[Problem] = []
        for ch, name in _DOT_LOOKALIKES.items():
            if ch in code:
                problems.append(
                    Problem(
                        field="档号",
                        value=code,
                        rule=RULE_NAME,
                        message=f"档号含「{ch}」({name})，同级代码之间应使用间隔号「·」(U+00B7)",
                    )
                )
        if "—" in code or "－" in code:
            problems.append(
                Problem(
                    field="档号",
                    value=code,
                    rule=RULE_NAME,
                    message="档号含全角或长破折号，上下级代码之间应使用连字符「-」",
                )
            )
        parsed = self.parse(code)
        if parsed is None:
            if not problems:
                hint = self._diagnose(code)
                problems.append(
                    Problem(
                        field="档号",
                        value=code,
                        rule=RULE_NAME,
                        message=f"「{code}」不符合档号规则 {self.id}（{self.title}）{hint}；示例：{self.example or ''}",
                    )
                )
            return problems
        if values is not None:
            for name, got in parsed.values.items():
                want = _text(values.get(name))
                if want and want != got:
                    problems.append(
                        Problem(
                            field=self.label(name),
                            value=got,
                            rule=RULE_NAME,
                            message=f"档号中的「{got}」与著录项「{self.label(name)}」的值「{want}」不一致",
                        )
                    )
        if self.has_parent and parent_code is not None and parsed.parent != parent_code:
            problems.append(
                Problem(
                    field="档号",
                    value=code,
                    rule=RULE_NAME,
                    message=f"卷内档号应以上级档号「{parent_code}」开头",
                )
            )
        if parsed.counter < self.counter.start:
            problems.append(
                Problem(
                    field="档号",
                    value=code,
                    rule=RULE_NAME,
                    message=f"{self.counter_label}应从 {self.counter.start} 起编",
                )
            )
        return problems

    def _diagnose(self, code: str) -> str:
        """A hint for the most common mistakes: separators and zero padding."""
        hints: list[str] = []
        last = code.rsplit(LEVEL_SEP, 1)[-1]
        width = self.counter.width
        if last.isdigit() and len(last) != width:
            hints.append(f"{self.counter_label}应为{width}位数字，不足位数时前补零")
        needed_dots = sum(max(0, sum(1 for s in lvl if not s.optional) - 1) for lvl in self.levels)
        if needed_dots and code.count(SEGMENT_SEP) < needed_dots:
            hints.append("同级代码之间应使用间隔号「·」，上下级之间使用「-」")
        return "：" + "；".join(hints) if hints else ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


class CodeRuleBook:
    """All compiled rules and the assignments that choose one per fonds, category and level."""

    def __init__(
        self,
        rules: tuple[RuleSpec, ...],
        fields: Mapping[str, FieldSpec],
        assignments: tuple[AssignmentSpec, ...],
        table_codes: Mapping[str, list[str]],
    ) -> None:
        patterns: dict[str, str] = {}
        for name, spec in fields.items():
            if spec.pattern is not None:
                patterns[name] = spec.pattern
            else:
                codes = sorted(table_codes[str(spec.table)], key=len, reverse=True)
                patterns[name] = "|".join(re.escape(c) for c in codes)
        patterns.setdefault("category", "[A-Z]{2}")
        patterns.setdefault("fonds_code", "[A-Z0-9]{4}")
        self.field_labels = {name: spec.label for name, spec in fields.items()}
        self.rules = {r.id: CodeRule(r, patterns, self.field_labels) for r in rules}
        self.assignments = assignments

    def rule(self, rule_id: str) -> CodeRule:
        return self.rules[rule_id]

    def rule_for(
        self,
        *,
        fonds_code: str,
        category: str | None,
        level: Level,
        parent_level: Level | None,
    ) -> CodeRule | None:
        """The most specific assigned rule, or None when the level takes no 档号 by rule."""
        best: tuple[int, int] | None = None
        chosen: str | None = None
        for order, a in enumerate(self.assignments):
            if a.level != level.value:
                continue
            if a.fonds not in ("*", fonds_code):
                continue
            if a.category not in ("*", category):
                continue
            if a.parent_level != "*" and (
                parent_level is None or a.parent_level != parent_level.value
            ):
                continue
            score = (
                (4 if a.fonds != "*" else 0)
                + (2 if a.category != "*" else 0)
                + (1 if a.parent_level != "*" else 0)
            )
            key = (score, -order)
            if best is None or key > best:
                best, chosen = key, a.rule
        return self.rules[chosen] if chosen else None
