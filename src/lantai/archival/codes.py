"""Code tables (值域): lookup by code, label or alias, with legacy and rank attributes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from lantai.archival.config import CodeTableSpec

__all__ = ["CodeEntry", "CodeTable", "fold"]


def fold(value: str) -> str:
    """Normalise a user-typed code value: NFKC (full-width → half-width) and trimmed."""
    return unicodedata.normalize("NFKC", value).strip()


@dataclass(frozen=True, kw_only=True)
class CodeEntry:
    code: str
    label: str
    aliases: tuple[str, ...] = ()
    rank: int | None = None
    years: int | None = None
    legacy: bool = False

    @property
    def display(self) -> str:
        return self.label or self.code


class CodeTable:
    """One code table. ``normalize`` maps a code, label or alias to the canonical code."""

    def __init__(self, name: str, spec: CodeTableSpec) -> None:
        self.name = name
        self.title = spec.title
        self.open = spec.open
        self.entries: tuple[CodeEntry, ...] = tuple(
            CodeEntry(
                code=e.code,
                label=e.label,
                aliases=e.aliases,
                rank=e.rank,
                years=e.years,
                legacy=e.legacy,
            )
            for e in spec.entries
        )
        self._by_code = {e.code: e for e in self.entries}
        self._lookup: dict[str, CodeEntry] = {}
        for e in self.entries:
            for key in (e.code, e.label, *e.aliases):
                if key:
                    self._lookup.setdefault(fold(key).upper(), e)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries)

    def get(self, code: str) -> CodeEntry | None:
        return self._by_code.get(code)

    def normalize(self, value: str) -> str | None:
        """The canonical code for ``value`` (code, label or alias), or None if unknown."""
        entry = self._lookup.get(fold(value).upper())
        return entry.code if entry else None

    def codes(self, *, include_legacy: bool = True) -> list[str]:
        return [e.code for e in self.entries if include_legacy or not e.legacy]

    def label(self, code: str) -> str:
        entry = self._by_code.get(code)
        return entry.display if entry else code
