"""Images (Pillow) and audio/video (ffprobe/ffmpeg): does it decode, and its technical facts.

Public API::

    inspect_image(path) -> ImageInfo          # decodes? size, DPI, colour mode, frames
    probe_media(path, *, tools=None) -> MediaInfo | None   # None when ffprobe is not installed
    media_tools() -> MediaTools | None        # the ffprobe/ffmpeg found on PATH

Images are decoded completely (every frame of a multi-page TIFF), JPEG in draft mode when very
large. Pillow's own decompression-bomb limit applies (about 179 million pixels): a larger image
is reported as not decoded with that reason (人工复核), never as decoded.

Audio/video: ``ffprobe`` (Debian ``ffmpeg``) reads container, duration and streams; ``ffmpeg``
then decodes the first seconds (``sample_seconds``) of every stream to a null sink. Inputs are
passed as ``file:`` URLs with only the ``file`` protocol and a fixed list of media demuxers
allowed, so a playlist or concat file can never make ffmpeg read other files or the network.
Without ffprobe, :func:`probe_media` returns None and the check becomes 人工复核; without ffmpeg,
``decodes`` is None (not verified).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from PIL import Image, UnidentifiedImageError

__all__ = [
    "DEMUXERS",
    "ImageInfo",
    "MediaInfo",
    "MediaTools",
    "StreamInfo",
    "inspect_image",
    "media_tools",
    "probe_media",
]

# Demuxers ffprobe/ffmpeg may use (no playlist, concat, image-sequence or network demuxers).
DEMUXERS: Final = (
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpeg,mpegts,mxf,wav,w64,aiff,mp3,flac,ogg,aac,"
    "asf,flv,dv,gxf"
)
DRAFT_PIXELS: Final = 20_000_000  # above this, JPEGs are decoded at reduced scale
_COLOUR: Final = {
    "1": ("黑白", 1),
    "L": ("灰度", 8),
    "LA": ("灰度", 8),
    "I;16": ("灰度", 16),
    "I;16B": ("灰度", 16),
    "I;16L": ("灰度", 16),
    "I": ("灰度", 32),
    "F": ("灰度", 32),
    "P": ("彩色（调色板）", 8),
    "PA": ("彩色（调色板）", 8),
    "RGB": ("彩色", 8),
    "RGBA": ("彩色", 8),
    "RGBX": ("彩色", 8),
    "CMYK": ("彩色（CMYK）", 8),
    "YCbCr": ("彩色", 8),
    "LAB": ("彩色（Lab）", 8),
    "HSV": ("彩色", 8),
}


@dataclass(frozen=True, kw_only=True)
class ImageInfo:
    decodes: bool
    error: str | None = None
    format: str | None = None  # Pillow's format name: TIFF, JPEG, PNG, JPEG2000 …
    width: int | None = None
    height: int | None = None
    mode: str | None = None  # Pillow mode: 1, L, RGB, CMYK …
    colour: str | None = None  # 黑白 / 灰度 / 彩色 …
    bits_per_sample: int | None = None
    dpi: tuple[float, float] | None = None  # None when the file does not say
    frames: int = 1
    compression: str | None = None  # TIFF compression (group4, tiff_lzw, raw …)


def inspect_image(path: Path) -> ImageInfo:
    """Decode ``path`` completely and report what it is (see the module docstring)."""
    facts: dict[str, Any] = {}
    try:
        with Image.open(path) as img:
            facts = _facts(img)
            frames = int(getattr(img, "n_frames", 1) or 1)
            for i in range(frames):
                img.seek(i)
                if i == 0 and img.format == "JPEG" and img.width * img.height > DRAFT_PIXELS:
                    img.draft(img.mode, (img.width // 8, img.height // 8))
                img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return ImageInfo(decodes=False, error=f"像素数超过解码上限，未解码：{exc}")
    except UnidentifiedImageError:
        return ImageInfo(decodes=False, error="不是可识别的图像文件")
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        return ImageInfo(decodes=False, error=f"图像无法完整解码：{exc}", **facts)
    return ImageInfo(decodes=True, frames=frames, **facts)


def _facts(img: Image.Image) -> dict[str, Any]:
    colour, bits = _COLOUR.get(img.mode, (img.mode, None))
    dpi = img.info.get("dpi")
    dpi_pair: tuple[float, float] | None = None
    if isinstance(dpi, tuple) and len(dpi) == 2:
        try:
            x, y = float(dpi[0]), float(dpi[1])
        except (TypeError, ValueError):
            x = y = 0.0
        if x > 0 and y > 0:
            dpi_pair = (round(x, 2), round(y, 2))
    compression = img.info.get("compression")
    return {
        "format": img.format,
        "width": img.width,
        "height": img.height,
        "mode": img.mode,
        "colour": colour,
        "bits_per_sample": bits,
        "dpi": dpi_pair,
        "compression": str(compression) if compression else None,
    }


# -- audio / video -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MediaTools:
    ffprobe: str
    ffmpeg: str | None  # decoding is not verified without it


@dataclass(frozen=True, kw_only=True)
class StreamInfo:
    index: int
    kind: str  # video | audio | subtitle | data
    codec: str | None
    profile: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    duration: float | None = None


@dataclass(frozen=True, kw_only=True)
class MediaInfo:
    readable: bool  # ffprobe understood the container
    decodes: bool | None  # the first seconds decode without error (None: not verified)
    error: str | None = None
    container: str | None = None  # ffprobe format_name
    duration: float | None = None  # seconds
    bit_rate: int | None = None
    streams: tuple[StreamInfo, ...] = ()

    @property
    def video_codec(self) -> str | None:
        return next((s.codec for s in self.streams if s.kind == "video"), None)

    @property
    def audio_codec(self) -> str | None:
        return next((s.codec for s in self.streams if s.kind == "audio"), None)


def media_tools() -> MediaTools | None:
    """ffprobe and ffmpeg from PATH (Debian ``ffmpeg``), or None without ffprobe."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    return MediaTools(ffprobe=ffprobe, ffmpeg=shutil.which("ffmpeg"))


def _input_args(path: Path) -> list[str]:
    return [
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        DEMUXERS,
        "-i",
        f"file:{path.resolve()}",
    ]


def probe_media(
    path: Path,
    *,
    tools: MediaTools | None = None,
    sample_seconds: float = 5.0,
    timeout: float = 120.0,
) -> MediaInfo | None:
    """Container, streams and a decoding test of the first seconds; None without ffprobe."""
    tools = tools or media_tools()
    if tools is None:
        return None
    try:
        done = subprocess.run(
            [
                tools.ffprobe,
                "-v",
                "error",
                "-hide_banner",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                *_input_args(path),
            ],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return MediaInfo(readable=False, decodes=False, error=f"ffprobe 超过 {timeout:g} 秒未完成")
    if done.returncode != 0:
        return MediaInfo(readable=False, decodes=False, error=_first_line(done.stderr, "ffprobe"))
    try:
        data: dict[str, Any] = json.loads(done.stdout or b"{}")
    except ValueError:
        return MediaInfo(readable=False, decodes=False, error="ffprobe 输出无法解析")
    fmt = data.get("format") or {}
    streams = tuple(_stream(s) for s in data.get("streams") or [])
    if not streams:
        return MediaInfo(
            readable=False,
            decodes=False,
            error="没有可识别的音视频流",
            container=fmt.get("format_name"),
        )
    decodes, error = _decode_sample(path, tools, sample_seconds, timeout)
    return MediaInfo(
        readable=True,
        decodes=decodes,
        error=error,
        container=fmt.get("format_name"),
        duration=_float(fmt.get("duration")),
        bit_rate=_int(fmt.get("bit_rate")),
        streams=streams,
    )


def _decode_sample(
    path: Path, tools: MediaTools, seconds: float, timeout: float
) -> tuple[bool | None, str | None]:
    if tools.ffmpeg is None:
        return None, "未安装 ffmpeg，未做解码检验"
    try:
        done = subprocess.run(
            [
                tools.ffmpeg,
                "-nostdin",
                "-v",
                "error",
                "-hide_banner",
                "-xerror",
                "-t",
                f"{seconds:g}",
                *_input_args(path),
                "-map",
                "0:v?",
                "-map",
                "0:a?",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return False, f"ffmpeg 解码超过 {timeout:g} 秒未完成"
    if done.returncode != 0 or done.stderr.strip():
        return False, _first_line(done.stderr, "ffmpeg")
    return True, None


def _stream(s: dict[str, Any]) -> StreamInfo:
    return StreamInfo(
        index=int(s.get("index", 0)),
        kind=str(s.get("codec_type") or "data"),
        codec=s.get("codec_name"),
        profile=s.get("profile"),
        width=_int(s.get("width")),
        height=_int(s.get("height")),
        frame_rate=s.get("avg_frame_rate") if s.get("codec_type") == "video" else None,
        sample_rate=_int(s.get("sample_rate")),
        channels=_int(s.get("channels")),
        duration=_float(s.get("duration")),
    )


def _first_line(stderr: bytes, tool: str) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    line = text.splitlines()[0] if text else f"{tool} 返回错误"
    return f"{tool}：{line[:300]}"


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "N/A") else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "N/A") else None
    except (TypeError, ValueError):
        return None
