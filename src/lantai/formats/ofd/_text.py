"""Text of OFD pages: TextCode contents in document order, lines broken by position.

Within a page the TextCodes are taken in the order they appear in Content.xml (nested PageBlocks
included). Positions are used only to decide separators: a TextCode whose baseline moves by more
than half the font size starts a new line; one that starts clearly to the right of where the
previous one ended gets a space. CTM transforms and templates are ignored (templates carry the
form's fixed labels, not the record's text). Scanned OFDs have no TextCode: their text is "".
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from lantai.formats.ofd._package import local_name

__all__ = ["page_text"]


@dataclass
class _Cursor:
    y: float | None = None
    x_end: float | None = None


def _floats(value: str | None) -> list[float]:
    """An ST_Array of numbers, expanding the ``g N v`` repeat shorthand of DeltaX/DeltaY."""
    out: list[float] = []
    tokens = (value or "").split()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "g" and i + 2 < len(tokens):
            try:
                count, step = int(tokens[i + 1]), float(tokens[i + 2])
            except ValueError:
                return out
            out.extend([step] * min(count, 100_000))
            i += 3
            continue
        try:
            out.append(float(tok))
        except ValueError:
            return out
        i += 1
    return out


def page_text(root: etree._Element) -> str:
    """The text of one page (the parsed root of its Content.xml)."""
    parts: list[str] = []
    cur = _Cursor()
    for obj in root.iter():
        if local_name(obj) != "TextObject":
            continue
        box = _floats(obj.get("Boundary"))
        ox, oy = (box[0], box[1]) if len(box) >= 2 else (0.0, 0.0)
        size = (_floats(obj.get("Size")) or [0.0])[0]
        x = y = 0.0
        for code in obj:
            if local_name(code) != "TextCode":
                continue
            text = code.text or ""
            if not text:
                continue
            if code.get("X") is not None:
                x = (_floats(code.get("X")) or [x])[0]
            if code.get("Y") is not None:
                y = (_floats(code.get("Y")) or [y])[0]
            ax, ay = ox + x, oy + y
            _separate(parts, cur, ax, ay, size)
            parts.append(text)
            deltas = _floats(code.get("DeltaX"))
            cur.y = ay
            cur.x_end = ax + sum(deltas[: max(len(text) - 1, 0)]) + size
    return "".join(parts).strip()


def _separate(parts: list[str], cur: _Cursor, x: float, y: float, size: float) -> None:
    if not parts or cur.y is None:
        return
    tolerance = max(size * 0.5, 0.5)
    if abs(y - cur.y) > tolerance:
        parts.append("\n")
    elif cur.x_end is not None and x - cur.x_end > max(size * 0.5, 0.5):
        parts.append(" ")
