"""Images (Pillow) and audio/video (ffprobe + ffmpeg), on files made at test time."""

from __future__ import annotations

import shutil
import struct
import subprocess
import wave
import zlib
from pathlib import Path

import pytest
from PIL import Image

from lantai.formats.media import MediaTools, inspect_image, media_tools, probe_media

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffprobe") is None or shutil.which("ffmpeg") is None,
    reason="ffprobe/ffmpeg (Debian package ffmpeg) not installed",
)


def _ffmpeg(out: Path, *args: str) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None
    subprocess.run([ffmpeg, "-v", "error", "-y", *args, str(out)], check=True, timeout=60)
    return out


def test_image_facts(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30), (200, 0, 0)).save(tmp_path / "a.png", dpi=(300, 300))
    png = inspect_image(tmp_path / "a.png")
    assert (png.decodes, png.format, png.width, png.height) == (True, "PNG", 40, 30)
    assert (png.mode, png.colour, png.bits_per_sample, png.dpi) == (
        "RGB",
        "彩色",
        8,
        (300.0, 300.0),
    )
    Image.new("L", (20, 20), 128).save(tmp_path / "g.jpg", dpi=(200, 200), quality=80)
    jpg = inspect_image(tmp_path / "g.jpg")
    assert (jpg.format, jpg.colour, jpg.dpi) == ("JPEG", "灰度", (200.0, 200.0))
    Image.new("RGB", (16, 16)).save(tmp_path / "n.jp2")
    jp2 = inspect_image(tmp_path / "n.jp2")
    assert (jp2.decodes, jp2.format, jp2.dpi) == (True, "JPEG2000", None)


def test_multipage_bilevel_tiff(tmp_path: Path) -> None:
    pages = [Image.new("1", (64, 80), i % 2) for i in range(3)]
    pages[0].save(
        tmp_path / "scan.tif",
        save_all=True,
        append_images=pages[1:],
        compression="group4",
        dpi=(600, 600),
    )
    info = inspect_image(tmp_path / "scan.tif")
    assert (info.decodes, info.frames, info.mode, info.colour, info.bits_per_sample) == (
        True,
        3,
        "1",
        "黑白",
        1,
    )
    assert (info.compression, info.dpi) == ("group4", (600.0, 600.0))


def test_truncated_and_non_images(tmp_path: Path) -> None:
    Image.effect_noise((200, 200), 60).convert("RGB").save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    cut = inspect_image(tmp_path / "cut.png")
    assert not cut.decodes and cut.error is not None and cut.error.startswith("图像无法完整解码")
    assert (cut.width, cut.height) == (200, 200)  # the header was read
    (tmp_path / "x.png").write_text("not an image", encoding="utf-8")
    assert inspect_image(tmp_path / "x.png").error == "不是可识别的图像文件"


def _png_header_only(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_is_not_decoded(tmp_path: Path) -> None:
    bomb = inspect_image(_png_header_only(tmp_path / "bomb.png", 30000, 30000))
    assert not bomb.decodes and bomb.error is not None
    assert bomb.error.startswith("像素数超过解码上限")


@needs_ffmpeg
def test_video_and_audio(tmp_path: Path) -> None:
    mp4 = _ffmpeg(
        tmp_path / "a.mp4",
        *("-f", "lavfi", "-i", "testsrc=d=1:s=64x48:r=25"),
        *("-f", "lavfi", "-i", "sine=d=1"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"),
    )
    info = probe_media(mp4)
    assert info is not None and info.readable and info.decodes is True
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.container is not None and "mp4" in info.container
    assert info.duration is not None and 0.9 < info.duration < 1.2
    video = next(s for s in info.streams if s.kind == "video")
    assert (video.width, video.height, video.frame_rate) == (64, 48, "25/1")
    with wave.open(str(tmp_path / "a.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0\0\0" * 16000)
    wav = probe_media(tmp_path / "a.wav")
    assert wav is not None and wav.decodes is True
    [audio] = wav.streams
    assert (audio.codec, audio.sample_rate, audio.channels) == ("pcm_s16le", 16000, 2)
    assert wav.video_codec is None


@needs_ffmpeg
def test_broken_media(tmp_path: Path) -> None:
    mp4 = _ffmpeg(
        tmp_path / "a.mp4", "-f", "lavfi", "-i", "testsrc=d=2:s=64x48:r=25", "-pix_fmt", "yuv420p"
    )
    data = mp4.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    cut = probe_media(tmp_path / "cut.mp4")
    assert cut is not None and not (cut.readable and cut.decodes)
    assert cut.error is not None
    (tmp_path / "noise.mp3").write_bytes(b"\x00LANTAI" * 100)
    noise = probe_media(tmp_path / "noise.mp3")
    assert noise is not None and noise.readable is False


@needs_ffmpeg
def test_playlists_cannot_reach_other_files(tmp_path: Path) -> None:
    secret = _ffmpeg(tmp_path / "secret.wav", "-f", "lavfi", "-i", "sine=d=1")
    playlist = tmp_path / "list.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXTINF:1,\nfile:{secret}\n#EXT-X-ENDLIST\n", encoding="utf-8")
    concat = tmp_path / "list.txt"
    concat.write_text(f"ffconcat version 1.0\nfile '{secret}'\n", encoding="utf-8")
    for path in (playlist, concat):
        info = probe_media(path)
        assert info is not None and info.readable is False and info.streams == ()


def test_without_ffprobe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert media_tools() is None
    assert probe_media(tmp_path / "whatever.mp4") is None


@needs_ffmpeg
def test_without_ffmpeg_decoding_is_not_verified(tmp_path: Path) -> None:
    ffprobe = shutil.which("ffprobe")
    assert ffprobe is not None
    wav = _ffmpeg(tmp_path / "a.wav", "-f", "lavfi", "-i", "sine=d=1")
    info = probe_media(wav, tools=MediaTools(ffprobe=ffprobe, ffmpeg=None))
    assert info is not None and info.readable and info.decodes is None
    assert info.error == "未安装 ffmpeg，未做解码检验"
