"""The engines behind :class:`~lantai.digitisation.asr.base.Transcriber` (imported lazily)."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

from lantai.digitisation.asr.base import AsrModelError, Segment, Transcript

__all__ = ["VoskTranscriber", "WhisperTranscriber"]


class VoskTranscriber:
    """Kaldi models through vosk; one segment per recognised utterance, word confidences averaged."""

    name = "vosk"

    def __init__(self, model_dir: Path) -> None:
        import vosk  # type: ignore[import-not-found, unused-ignore]

        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(model_dir))
        except Exception as exc:
            raise AsrModelError(f"Vosk 无法加载模型 {model_dir}：{exc}") from exc
        self._vosk = vosk
        self.model = model_dir.name

    def transcribe(self, wav: Path) -> Transcript:
        segments: list[Segment] = []
        with wave.open(str(wav), "rb") as w:
            rate = w.getframerate()
            rec = self._vosk.KaldiRecognizer(self._model, rate)
            rec.SetWords(True)
            while chunk := w.readframes(8000):
                if rec.AcceptWaveform(chunk):
                    segments += _vosk_segment(json.loads(rec.Result()))
            segments += _vosk_segment(json.loads(rec.FinalResult()))
            length = w.getnframes() / float(rate)
        return Transcript(segments=segments, duration=length)


def _vosk_segment(result: dict[str, Any]) -> list[Segment]:
    words = result.get("result") or []
    text = str(result.get("text") or "").replace(" ", "")  # Chinese models space every word
    if not words or not text:
        return []
    conf = sum(float(w.get("conf", 0)) for w in words) / len(words)
    return [Segment(float(words[0]["start"]), float(words[-1]["end"]), text, round(conf, 3))]


class WhisperTranscriber:
    """CTranslate2 Whisper models through faster-whisper (int8 on CPU, VAD filter on)."""

    name = "faster-whisper"

    def __init__(self, model_dir: Path, *, language: str = "zh", threads: int = 1) -> None:
        from faster_whisper import WhisperModel  # type: ignore[import-not-found, unused-ignore]

        try:
            self._model = WhisperModel(
                str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
            )
        except Exception as exc:
            raise AsrModelError(f"faster-whisper 无法加载模型 {model_dir}：{exc}") from exc
        self.language = language
        self.model = model_dir.name

    def transcribe(self, wav: Path) -> Transcript:
        parts, info = self._model.transcribe(
            str(wav), language=self.language, beam_size=5, vad_filter=True
        )
        segments = [
            Segment(float(p.start), float(p.end), p.text.strip(), None) for p in parts if p.text
        ]
        return Transcript(segments=segments, language=info.language, duration=info.duration)
