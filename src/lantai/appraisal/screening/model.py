"""Results of machine pre-screening (机器预筛): hits and the per-record summary, with JSON forms.

Shapes are meant to be kept by the review rounds that come later: a review task can store
``RecordScreening.to_dict()`` as the machine's opinion next to each reviewer's decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Hit", "Location", "RecordScreening", "SourceKind"]

SourceKind = Literal["field", "text"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a hit is: a catalogue field (``name`` = element key) or a full-text part.

    ``start``/``end`` are character offsets into the unaltered value or text. ``record_id`` is the
    record that holds the value (for a 案卷, one of its 件 may hold it).
    """

    source: SourceKind
    name: str
    start: int
    end: int
    label: str = ""
    page: int | None = None
    record_id: int | None = None

    def describe(self) -> str:
        """zh-CN: 「题名」 / 全文「正文.pdf」第3页, 字符 12–30."""
        where = (
            f"著录项「{self.label or self.name}」"
            if self.source == "field"
            else (f"全文「{self.label or self.name}」")
        )
        if self.page is not None:
            where += f"第{self.page}页"
        return where

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "name": self.name,
            "label": self.label or self.name,
            "start": self.start,
            "end": self.end,
        }
        if self.page is not None:
            out["page"] = self.page
        if self.record_id is not None:
            out["record_id"] = self.record_id
        return out


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule hit: which rule, where, what was matched (and its masked form), and why."""

    rule_id: str
    rule_name: str
    kind: str
    category: str
    severity: str
    result: str
    basis: str
    basis_verified: bool
    location: Location
    text: str
    masked: str
    reason: str
    note: str = ""

    def to_dict(self, *, include_text: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "kind": self.kind,
            "category": self.category,
            "severity": self.severity,
            "result": self.result,
            "basis": self.basis,
            "basis_verified": self.basis_verified,
            "location": self.location.to_dict(),
            "masked": self.masked,
            "reason": self.reason,
        }
        if include_text:
            out["text"] = self.text
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class RecordScreening:
    """The machine's pre-screening of one record (review unit): hits and a suggested result."""

    record_id: int | None
    archival_code: str | None
    title: str
    suggestion: str
    suggestion_reason: str
    hits: tuple[Hit, ...] = field(default_factory=tuple)
    texts_screened: int = 0
    chars_screened: int = 0

    @property
    def rule_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for h in self.hits:
            out[h.rule_id] = out.get(h.rule_id, 0) + 1
        return out

    def to_dict(self, *, include_text: bool = True) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "archival_code": self.archival_code,
            "title": self.title,
            "suggestion": self.suggestion,
            "suggestion_reason": self.suggestion_reason,
            "rule_counts": self.rule_counts,
            "texts_screened": self.texts_screened,
            "chars_screened": self.chars_screened,
            "hits": [h.to_dict(include_text=include_text) for h in self.hits],
        }
