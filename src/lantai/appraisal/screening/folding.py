"""Folded text with a map back to the original: detectors match on folded text, hits point at
the original.

Folding is :func:`lantai.archival.text.fold_text` (NFKC full-width → half-width, OpenCC t2s
traditional → simplified, lower case). It nearly always keeps the length; when it does not (an
NFKC expansion such as ``㈠`` → ``(一)``), the text is folded one character at a time and an offset
map is kept, so every hit's start/end is an offset into the unaltered master text.
"""

from __future__ import annotations

from dataclasses import dataclass

from lantai.archival.text import fold_text

__all__ = ["Folded", "fold"]


@dataclass(frozen=True, slots=True)
class Folded:
    original: str
    text: str
    # offsets[i] = offset in ``original`` of folded character i (with a final sentinel);
    # None when folding kept every character in place.
    offsets: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original (start, end) of the folded span [start, end)."""
        if self.offsets is None:
            return start, end
        o = self.offsets
        return o[start], (o[end - 1] + 1 if end > start else o[start])


def fold(text: str) -> Folded:
    folded = fold_text(text)
    if len(folded) == len(text):
        return Folded(text, folded)
    pieces: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        f = fold_text(ch)
        pieces.append(f)
        offsets.extend([i] * len(f))
    offsets.append(len(text))
    return Folded(text, "".join(pieces), tuple(offsets))
