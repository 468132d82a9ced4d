"""Highlighting: where the query's words occur in a record's text, as plain segments.

A :class:`Matcher` finds the query's terms in *folded* text (the same folding as the index, so
檔案 in a document is marked for a search for 档案) and maps the matches back to the original
characters. Results are lists of :class:`Segment` (text, marked or not); templates and API clients
render them, so no HTML is ever built from record text here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from lantai.search.analysis import CJK, fold, fold_with_offsets, runs

__all__ = ["Matcher", "Segment", "segments", "snippet"]

_GAP = f"[^0-9a-z{CJK}]*"
SNIPPET_CHARS = 140
SCAN_CHUNK = 20_000
SCAN_LIMIT = 400_000


@dataclass(frozen=True)
class Segment:
    text: str
    mark: bool = False


def _pattern(term: str) -> str | None:
    parts = runs(fold(term))
    if not parts:
        return None
    body = _GAP.join(re.escape(p) for p in parts)  # punctuation between CJK is folded away
    if parts[0][0] < "\u3000":
        body = "(?<![0-9a-z])" + body
    if parts[-1][0] < "\u3000":
        body += "(?![0-9a-z])"
    return body


@functools.lru_cache(maxsize=1024)
def _compiled(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """The pattern of a tuple of terms (cached: each hits page builds a Matcher per field)."""
    patterns = sorted({p for t in terms if (p := _pattern(t))}, key=len, reverse=True)
    return re.compile("|".join(patterns)) if patterns else None


class Matcher:
    """Finds any of a set of query terms in text."""

    def __init__(self, terms: Iterable[str]) -> None:
        self._re = _compiled(tuple(terms))

    def __bool__(self) -> bool:
        return self._re is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Spans of the original text that match (non-overlapping, in order)."""
        if self._re is None or not text:
            return []
        folded, offsets = fold_with_offsets(text)
        out = []
        for m in self._re.finditer(folded):
            if m.end() > m.start():
                out.append((offsets[m.start()], offsets[m.end() - 1] + 1))
        return out


def segments(text: str, spans: list[tuple[int, int]]) -> list[Segment]:
    out: list[Segment] = []
    pos = 0
    for a, b in spans:
        if a < pos:
            continue
        if a > pos:
            out.append(Segment(text[pos:a]))
        out.append(Segment(text[a:b], True))
        pos = b
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return out


def snippet(text: str, matcher: Matcher, *, width: int = SNIPPET_CHARS) -> list[Segment] | None:
    """A window of ``text`` around its first match, marked; None when nothing matches.

    Long texts are folded chunk by chunk until the first match (at most ``SCAN_LIMIT`` characters),
    so a match near the start of a book-length OCR text costs little.
    """
    if not matcher:
        return None
    start = 0
    limit = min(len(text), SCAN_LIMIT)
    while start < limit:
        chunk_end = min(limit, start + SCAN_CHUNK)
        spans = matcher.spans(text[start:chunk_end])
        if spans:
            first = spans[0][0] + start
            a = max(0, first - width // 3)
            b = min(len(text), a + width)
            window = text[a:b]
            found = [(x - (a - start), y - (a - start)) for x, y in spans]
            inside = [
                (max(0, x), min(len(window), y)) for x, y in found if y > 0 and x < len(window)
            ]
            out = segments(_clean(window), inside)
            if a > 0:
                out.insert(0, Segment("…"))
            if b < len(text):
                out.append(Segment("…"))
            return out
        if chunk_end >= limit:
            break
        start = chunk_end - 64  # overlap so a match across the boundary is not missed
    return None


def _clean(window: str) -> str:
    """Line breaks and tabs become spaces (one line of context); length is kept."""
    return window.translate({10: 32, 13: 32, 9: 32})
