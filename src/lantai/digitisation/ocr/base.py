"""The OCR engine interface: a page image in, lines of text with confidence and box out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

__all__ = ["OcrEngine", "OcrLine", "OcrPage", "OcrUnavailable"]


class OcrUnavailable(RuntimeError):
    """The engine's software or language data is not installed."""


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float  # 0..1
    box: tuple[int, int, int, int]  # left, top, right, bottom in image pixels


@dataclass(frozen=True)
class OcrPage:
    lines: list[OcrLine] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float:
        """Mean confidence weighted by characters (1.0 for a page without text)."""
        chars = sum(len(line.text) for line in self.lines)
        if not chars:
            return 1.0
        return sum(line.confidence * len(line.text) for line in self.lines) / chars


class OcrEngine(Protocol):
    name: str

    def recognise(self, image: Image.Image, *, script: str = "simplified") -> OcrPage:
        """Text lines of ``image`` in reading order. ``script``: simplified | traditional."""
        ...
