"""The transcriber interface: 16 kHz mono PCM in, timed segments out (sibling of OcrEngine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lantai.errors import ConfigError

__all__ = ["AsrModelError", "Segment", "Transcriber", "Transcript", "timestamp"]


class AsrModelError(ConfigError):
    """The configured model directory cannot be used (the message names what is missing)."""


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the media
    end: float
    text: str
    confidence: float | None = None


@dataclass
class Transcript:
    segments: list[Segment] = field(default_factory=list)
    language: str = "zh"
    duration: float | None = None

    @property
    def text(self) -> str:
        """One line per segment, each headed by its start time: what search indexes."""
        return "\n".join(f"[{timestamp(s.start)}] {s.text}" for s in self.segments if s.text)


def timestamp(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Transcriber(Protocol):
    name: str  # engine: "vosk", "faster-whisper"
    model: str  # the model directory's name

    def transcribe(self, wav: Path) -> Transcript:
        """Transcribe a 16 kHz mono 16-bit WAV file (made by :func:`~.media.to_wav`)."""
        ...
