"""三合一 tables (分类方案 + 归档范围 + 保管期限表), versioned, and suggestions from them.

Given an incoming item's 题名, 文种, 责任者 and 机构（问题）, :meth:`ClassificationTable.suggest`
returns the matching 类目 ranked best first, each with the 门类, 保管期限 and the reasons it
matched, so that an archivist sees *why* a retention period was proposed.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date

from lantai.archival.config import ClassificationFile, EntrySpec
from lantai.archival.text import fold_text

__all__ = ["ClassificationBook", "ClassificationTable", "Suggestion"]

SOURCE_LABELS = {
    "own": "本机关",
    "superior": "上级机关",
    "subordinate": "下级机关",
    "other": "其他机关",
}


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """One matching 类目 of a 三合一 table and why it matched."""

    table_id: str
    table_version: str
    entry_code: str
    scope: str
    category: str
    class_code: str | None
    class_name: str | None
    org_code: str | None
    retention: str
    reasons: tuple[str, ...]
    score: int

    @property
    def rule(self) -> str:
        return f"{self.table_id}@{self.table_version} 类目 {self.entry_code}"


class ClassificationTable:
    """One version of a 三合一 table."""

    def __init__(self, spec: ClassificationFile) -> None:
        self.spec = spec
        self.id = spec.id
        self.version = spec.version
        self.effective_from = spec.effective_from
        self.title = spec.title
        self._classes = {c.code: c for c in spec.classes}
        # Keywords folded (traditional → simplified, full-width → half-width) once, not per call.
        self._folded: dict[str, str] = {
            w: fold_text(w)
            for e in spec.entries
            for w in (*e.match.title_any, *e.match.title_all, *e.match.title_none)
        }
        self._parties = [
            (kind, fold_text(name))
            for kind in ("own", "superior", "subordinate")
            for name in getattr(spec.parties, kind)
        ]

    def source_of(self, responsible: str | None) -> str:
        """own / superior / subordinate / other, by the longest configured party name found."""
        if not responsible:
            return "other"
        first = fold_text(responsible.replace("；", "、").replace(";", "、").split("、")[0])
        best, best_len = "other", 0
        for kind, name in self._parties:
            if name and name in first and len(name) > best_len:
                best, best_len = kind, len(name)
        return best

    def suggest(
        self,
        *,
        title: str,
        doc_type: str | None = None,
        responsible: str | None = None,
        org_code: str | None = None,
    ) -> list[Suggestion]:
        """Matching 类目, best first (most conditions met, then lowest priority number)."""
        folded_title = fold_text(title or "")
        source = self.source_of(responsible)
        ranked: list[tuple[int, int, int, Suggestion]] = []
        for order, entry in enumerate(self.spec.entries):
            reasons = self._match(entry, folded_title, doc_type, source, org_code, self._folded)
            if reasons is None:
                continue
            cls = self._classes.get(entry.class_) if entry.class_ else None
            s = Suggestion(
                table_id=self.id,
                table_version=self.version,
                entry_code=entry.code,
                scope=entry.scope,
                category=entry.category or self.spec.category,
                class_code=cls.code if cls else None,
                class_name=cls.name if cls else None,
                org_code=cls.org_code if cls else None,
                retention=entry.retention,
                reasons=tuple(reasons),
                score=len(reasons),
            )
            ranked.append((-len(reasons), entry.priority, order, s))
        ranked.sort(key=lambda t: t[:3])
        return [t[3] for t in ranked]

    @staticmethod
    def _match(
        entry: EntrySpec,
        title: str,
        doc_type: str | None,
        source: str,
        org_code: str | None,
        folded: dict[str, str],
    ) -> list[str] | None:
        m = entry.match
        reasons: list[str] = []
        if m.source is not None:
            if m.source != source:
                return None
            reasons.append(f"来源为{SOURCE_LABELS[m.source]}")
        if m.doc_types:
            if not doc_type or doc_type not in m.doc_types:
                return None
            reasons.append(f"文种为「{doc_type}」")
        if m.orgs:
            if not org_code or org_code not in m.orgs:
                return None
            reasons.append(f"机构（问题）为「{org_code}」")
        if m.title_any:
            hits = [w for w in m.title_any if folded[w] in title]
            if not hits:
                return None
            reasons.append(f"题名含「{hits[0]}」")
        if m.title_all:
            if not all(folded[w] in title for w in m.title_all):
                return None
            reasons.append("题名含「" + "」「".join(m.title_all) + "」")
        if m.title_none:
            if any(folded[w] in title for w in m.title_none):
                return None
            reasons.append("题名不含「" + "」「".join(m.title_none) + "」")
        return reasons


class ClassificationBook:
    """All versions of all 三合一 tables; picks the version in force on a date."""

    def __init__(self, specs: tuple[ClassificationFile, ...]) -> None:
        self._versions: dict[str, list[ClassificationTable]] = {}
        for spec in specs:
            self._versions.setdefault(spec.id, []).append(ClassificationTable(spec))
        for versions in self._versions.values():
            versions.sort(key=lambda t: t.effective_from)

    def ids(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, table_id: str) -> list[ClassificationTable]:
        return list(self._versions.get(table_id, []))

    def table(self, table_id: str, on: date | None = None) -> ClassificationTable | None:
        """The version of ``table_id`` in force on ``on`` (the newest version when None)."""
        versions = self._versions.get(table_id)
        if not versions:
            return None
        if on is None:
            return versions[-1]
        i = bisect_right([v.effective_from for v in versions], on)
        return versions[i - 1] if i else None
