"""The screener: compiles a rules file into detectors and screens values, texts and records.

Screening a record (a review unit) = its catalogue fields + all its full texts (and, for a 案卷,
those of its 件). Every hit names the rule, where it is (field or text part, page, character
offsets into the unaltered value), the matched text and its masked form, and why (zh-CN, with the
rule's basis). The suggested result for the record is that of the most restrictive rule hit
(``results`` order in the rules file, then severity); no hit suggests 开放.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lantai.appraisal.screening.bankcard import BankCardDetector
from lantai.appraisal.screening.base import Found
from lantai.appraisal.screening.config import (
    SEVERITY_RANK,
    BankCardRule,
    CategoryRule,
    IdCardRule,
    LandlineRule,
    MobileRule,
    NameContextRule,
    Rule,
    RulesFile,
    SecurityLevelRule,
    TermsRule,
)
from lantai.appraisal.screening.folding import fold
from lantai.appraisal.screening.identity import IdCardDetector
from lantai.appraisal.screening.masking import mask_match
from lantai.appraisal.screening.model import Hit, Location, RecordScreening, SourceKind
from lantai.appraisal.screening.names import NameContextDetector
from lantai.appraisal.screening.phones import LandlineDetector, MobileDetector
from lantai.appraisal.screening.security import CategoryDetector, SecurityLevelDetector
from lantai.appraisal.screening.terms import TermsDetector

__all__ = ["SKIP_FIELDS", "Screener", "SubRecord", "TextPart", "TextSpan"]

# Catalogue elements that hold codes, dates and numbers set by the system, not free text.
SKIP_FIELDS = frozenset(
    {
        "archival_code",
        "date",
        "year",
        "retention",
        "security_level",
        "open_status",
        "disclosure",
        "pages",
        "org_code",
        "category",
        "level",
        "review_due",
        "declassified",
        "archive_code",
        "fonds_code",
        "class_code",
        "subclass_code",
        "catalogue_no",
        "item_no",
        "file_no",
    }
)
_PAGE = re.compile(r"第\s*(\d{1,5})\s*页")


@dataclass(frozen=True, slots=True)
class TextPart:
    """One full text of a record (``RecordText``): its part name and text."""

    part: str
    text: str


@dataclass(frozen=True, slots=True)
class SubRecord:
    """A 件 inside the 案卷 being screened: screened with it, hits point at it."""

    record_id: int | None
    archival_code: str | None
    values: Mapping[str, Any]
    texts: Sequence[TextPart] = ()


@dataclass(frozen=True, slots=True)
class TextSpan:
    """A hit in a plain text: original offsets, the rule and the matched text."""

    start: int
    end: int
    rule: Rule
    text: str
    masked: str


@dataclass
class _Collector:
    hits: list[Hit] = field(default_factory=list)
    texts: int = 0
    chars: int = 0


class Screener:
    def __init__(
        self,
        rules: RulesFile,
        *,
        today: date | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.rules = rules
        self.labels = dict(labels or {})
        active = [r for r in rules.rules if r.enabled]
        self.by_id: dict[str, Rule] = {r.id: r for r in active}
        self._security = SecurityLevelDetector(
            [r for r in active if isinstance(r, SecurityLevelRule)]
        )
        self._category = CategoryDetector([r for r in active if isinstance(r, CategoryRule)])
        self._text_detectors: list[Any] = []
        for r in active:
            if isinstance(r, IdCardRule):
                self._text_detectors.append(IdCardDetector(r, today))
            elif isinstance(r, MobileRule):
                self._text_detectors.append(MobileDetector(r))
            elif isinstance(r, LandlineRule):
                self._text_detectors.append(LandlineDetector(r))
            elif isinstance(r, BankCardRule):
                self._text_detectors.append(BankCardDetector(r, today))
        terms = [r for r in active if isinstance(r, TermsRule)]
        if terms:
            self._text_detectors.append(TermsDetector(terms))
        names = [r for r in active if isinstance(r, NameContextRule)]
        self._surname_len: dict[str, int] = {}
        if names:
            det = NameContextDetector(rules.lexicon, names)
            self._compound = det.finder.compound
            self._text_detectors.append(det)
        else:
            self._compound = frozenset()

    # -- plain text ------------------------------------------------------------------------------

    def scan(self, text: str) -> list[TextSpan]:
        """Every hit in ``text`` (original offsets), sorted; one per (kind, span), strictest rule."""
        if not text:
            return []
        folded = fold(text)
        found: list[Found] = []
        for det in self._text_detectors:
            found.extend(det.find(folded.text))
        if not found:
            return []
        best: dict[tuple[str, int, int], Rule] = {}
        for f in found:
            rule = self.by_id[f.rule_id]
            key = (rule.kind, f.start, f.end)
            old = best.get(key)
            if old is None or self._strictness(rule) > self._strictness(old):
                best[key] = rule
        out: list[TextSpan] = []
        for (kind, fs, fe), rule in best.items():
            s, e = folded.span(fs, fe)
            matched = text[s:e]
            surname = (
                2 if kind == "name_context" and folded.text[fs : fs + 2] in self._compound else 1
            )
            out.append(TextSpan(s, e, rule, matched, mask_match(kind, matched, surname)))
        out.sort(key=lambda t: (t.start, t.end, t.rule.id))
        return out

    def mask_text(self, text: str) -> str:
        """``text`` as it may be published: personal data of rules with ``mask`` replaced.

        Returns a new string of the same length; the master text is never altered.
        """
        spans = [t for t in self.scan(text) if t.rule.mask and t.masked != t.text]
        if not spans:
            return text
        chars = list(text)
        for t in spans:
            for i, c in enumerate(t.masked):
                if c == "*":
                    chars[t.start + i] = "*"
        return "".join(chars)

    def _strictness(self, rule: Rule) -> tuple[int, int]:
        return self.rules.rank(rule.result), SEVERITY_RANK[rule.severity]

    # -- records ---------------------------------------------------------------------------------

    def _hit(self, rule: Rule, loc: Location, text: str, masked: str) -> Hit:
        basis = rule.basis + ("" if rule.basis_verified else "（依据待核实）")
        reason = f"{loc.describe()}发现{rule.name}「{masked}」，依据：{basis}；建议{rule.result}"
        if rule.note:
            reason += f"（{rule.note}）"
        return Hit(
            rule_id=rule.id,
            rule_name=rule.name,
            kind=rule.kind,
            category=rule.category,
            severity=rule.severity,
            result=rule.result,
            basis=rule.basis,
            basis_verified=rule.basis_verified,
            location=loc,
            text=text,
            masked=masked,
            reason=reason,
            note=rule.note,
        )

    def _values(
        self, out: _Collector, values: Mapping[str, Any], record_id: int | None, prefix: str
    ) -> None:
        for source_key, detector in (
            ("security_level", self._security),
            ("category", self._category),
        ):
            for rule_id, value in detector.find(values):
                loc = Location(
                    "field",
                    source_key,
                    0,
                    len(value),
                    label=prefix + self.labels.get(source_key, source_key),
                    record_id=record_id,
                )
                out.hits.append(self._hit(self.by_id[rule_id], loc, value, value))
        for key, value in values.items():
            if key in SKIP_FIELDS or not isinstance(value, str) or not value:
                continue
            label = prefix + self.labels.get(key, key)
            self._spans(out, "field", key, label, value, record_id)

    def _spans(
        self,
        out: _Collector,
        source: SourceKind,
        name: str,
        label: str,
        text: str,
        record_id: int | None,
    ) -> None:
        out.chars += len(text)
        spans = self.scan(text)
        page_of_part = None
        if source == "text":
            m = _PAGE.search(name)
            page_of_part = int(m.group(1)) if m else None
        for t in spans:
            page = page_of_part
            if page is None and source == "text" and "\f" in text:
                page = text.count("\f", 0, t.start) + 1
            loc = Location(
                source, name, t.start, t.end, label=label, page=page, record_id=record_id
            )
            out.hits.append(self._hit(t.rule, loc, t.text, t.masked))

    def _texts(
        self, out: _Collector, texts: Iterable[TextPart], record_id: int | None, prefix: str
    ) -> None:
        for tp in texts:
            out.texts += 1
            self._spans(out, "text", tp.part, prefix + tp.part, tp.text, record_id)

    def screen(
        self,
        values: Mapping[str, Any],
        texts: Sequence[TextPart] = (),
        *,
        record_id: int | None = None,
        children: Sequence[SubRecord] = (),
    ) -> RecordScreening:
        """Screen one review unit: its catalogue values and full texts (and its 件)."""
        out = _Collector()
        self._values(out, values, record_id, "")
        self._texts(out, texts, record_id, "")
        for child in children:
            prefix = f"{child.archival_code or child.record_id}·"
            self._values(out, child.values, child.record_id, prefix)
            self._texts(out, child.texts, child.record_id, prefix)
        return self.summarise(
            out.hits,
            record_id=record_id,
            archival_code=values.get("archival_code"),
            title=str(values.get("title") or ""),
            texts=out.texts,
            chars=out.chars,
        )

    def summarise(
        self,
        hits: Sequence[Hit],
        *,
        record_id: int | None,
        archival_code: str | None,
        title: str,
        texts: int = 0,
        chars: int = 0,
    ) -> RecordScreening:
        if not hits:
            return RecordScreening(
                record_id=record_id,
                archival_code=archival_code,
                title=title,
                suggestion="开放",
                suggestion_reason="机器预筛未发现需限制开放的内容，建议开放（须经人工审核确认）",
                texts_screened=texts,
                chars_screened=chars,
            )
        worst = max(hits, key=lambda h: (self.rules.rank(h.result), SEVERITY_RANK[h.severity]))
        rules = sorted({h.rule_name for h in hits})
        basis = worst.basis + ("" if worst.basis_verified else "（依据待核实）")
        reason = (
            f"命中 {len(hits)} 处（{'、'.join(rules)}）；限制程度最高的是「{worst.rule_name}」，"
            f"依据：{basis}；建议{worst.result}"
        )
        if worst.note:
            reason += f"（{worst.note}）"
        return RecordScreening(
            record_id=record_id,
            archival_code=archival_code,
            title=title,
            suggestion=worst.result,
            suggestion_reason=reason,
            hits=tuple(hits),
            texts_screened=texts,
            chars_screened=chars,
        )
