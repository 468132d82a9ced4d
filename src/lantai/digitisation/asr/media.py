"""Audio extraction with ffmpeg: any audio or video file to 16 kHz mono 16-bit WAV."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

from lantai.errors import ValidationFailed

__all__ = ["MEDIA_SUFFIXES", "duration", "is_media", "to_wav"]

MEDIA_SUFFIXES = frozenset(
    [
        ".wav",
        ".mp3",
        ".m4a",
        ".aac",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".wma",
        ".amr",
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        ".mkv",
        ".wmv",
        ".flv",
        ".mpg",
        ".mpeg",
        ".ts",
        ".webm",
        ".3gp",
    ]
)


def is_media(path: str, mime: str | None) -> bool:
    """录音/录像 files: an audio/* or video/* type, or a known media suffix."""
    if mime and mime.split("/", 1)[0] in ("audio", "video"):
        return True
    return Path(path).suffix.lower() in MEDIA_SUFFIXES


def to_wav(src: Path, dst: Path, *, timeout: float = 3600.0) -> Path:
    """Decode ``src`` (first audio stream) to 16 kHz mono PCM WAV at ``dst``."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ValidationFailed("未安装 ffmpeg，无法提取音频（scripts/bootstrap.sh 会安装）")
    cmd = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src),
        "-vn", "-ac", "1", "-ar", "16000", "-acodec", "pcm_s16le", "-f", "wav", str(dst),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not dst.exists():
        detail = (proc.stderr or "").strip().splitlines()[-1:] or ["无输出"]
        raise ValidationFailed(f"无法从「{src.name}」提取音频：{detail[0]}")
    return dst


def duration(wav: Path) -> float:
    with wave.open(str(wav), "rb") as w:
        return w.getnframes() / float(w.getframerate())
