"""The long-term format policy: the data file, classification, and honesty of the "verified" PUIDs."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest
import yaml
from PIL import Image

from formats.ofd_builder import make_ofd
from lantai.errors import ConfigError
from lantai.formats.identify import identify, identify_many
from lantai.formats.policy import POLICY_PATH, Decision, classify, load_policy
from lantai.ingest.transfer import FormatInfo


def info(puid: str | None, name: str = "x") -> FormatInfo:
    return FormatInfo(puid=puid, name=name, mime=None)


def test_brief_formats_are_listed() -> None:
    policy = load_policy()
    expected = {
        "lantai/ofd": Decision.LONG_TERM,  # OFD
        "fmt/477": Decision.LONG_TERM,  # PDF/A-2b
        "fmt/276": Decision.ACCEPTED,  # PDF 1.7: accepted with a flag
        "fmt/353": Decision.LONG_TERM,  # TIFF
        "fmt/43": Decision.LONG_TERM,  # JPEG
        "x-fmt/392": Decision.LONG_TERM,  # JPEG 2000
        "fmt/11": Decision.ACCEPTED,  # PNG
        "fmt/101": Decision.LONG_TERM,  # XML
        "x-fmt/111": Decision.LONG_TERM,  # TXT
        "x-fmt/18": Decision.ACCEPTED,  # CSV
        "fmt/141": Decision.LONG_TERM,  # WAV
        "fmt/134": Decision.LONG_TERM,  # MP3
        "fmt/199": Decision.LONG_TERM,  # MP4 (H.264 to be confirmed)
        "fmt/200": Decision.LONG_TERM,  # MXF
        "fmt/412": Decision.CONVERT,  # DOCX
        "x-fmt/263": Decision.REJECT,  # ZIP inside a transfer
        "x-fmt/264": Decision.REJECT,  # RAR (non-public compression)
    }
    assert {p: policy.classify(info(p)).decision for p in expected} == expected
    assert policy.classify(info("lantai/ofd")).confidence == "V"
    assert policy.classify(info("fmt/200")).confidence == "M"


def test_fallbacks() -> None:
    unknown = classify(None)
    assert unknown.decision is Decision.REJECT and unknown.entry is None
    assert "无法识别" in unknown.rule
    assert classify(info(None)).decision is Decision.REJECT
    unlisted = classify(info("fmt/111", "OLE2 Compound Document Format"))
    assert unlisted.decision is Decision.CONVERT and unlisted.entry is None
    assert unlisted.rule.startswith("OLE2 Compound Document Format（fmt/111）：")


def test_requires_and_promote() -> None:
    mp4 = info("fmt/199")
    unprobed = classify(mp4)
    assert unprobed.decision is Decision.LONG_TERM
    assert unprobed.notes[0] == "须核实 video_codec ∈ h264（未探测）"
    assert classify(mp4, facts={"video_codec": "h264"}).notes == ()
    mpeg4 = classify(mp4, facts={"video_codec": "mpeg4"})
    assert mpeg4.decision is Decision.CONVERT
    assert "video_codec=mpeg4" in mpeg4.notes[0]
    pdf = classify(info("fmt/276"))
    assert pdf.decision is Decision.ACCEPTED and pdf.acceptable
    claimed = classify(info("fmt/276"), facts={"pdfa_claim": "2b"})
    assert (claimed.decision, claimed.entry) == (Decision.LONG_TERM, "pdfa")
    assert "pdfa_claim=2b" in claimed.notes[0]
    unverified = classify(info("fmt/1910"))
    assert unverified.entry == "pdfa" and unverified.notes[-1].endswith("[M]")


def test_classify_identified_files(tmp_path: Path, fixtures_dir: Path) -> None:
    skeleton = fixtures_dir / "format-id" / "skeleton-suite-dev-subset"
    files = {
        "ofd": make_ofd(tmp_path / "a.ofd"),
        "pdfa": skeleton / "fmt/fmt-354-signature-id-521.pdf",
        "pdf": skeleton / "fmt/fmt-276-signature-id-289.pdf",
        "docx": skeleton / "containers/fmt-412-container-signature-id-1030.docx",
        "zip": skeleton / "x-fmt/x-fmt-263-signature-id-200.zip",
    }
    found = identify_many(list(files.values()))
    got = {k: classify(found[p]).decision for k, p in files.items()}
    assert got == {
        "ofd": Decision.LONG_TERM,
        "pdfa": Decision.LONG_TERM,
        "pdf": Decision.ACCEPTED,
        "docx": Decision.CONVERT,
        "zip": Decision.REJECT,
    }


def _generated_samples(folder: Path) -> list[Path]:
    img = Image.new("RGB", (16, 16), (1, 2, 3))
    for ext in ("png", "tif", "jpg", "jp2", "gif", "bmp", "webp"):
        img.save(folder / f"s.{ext}")
    with wave.open(str(folder / "s.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 80)
    (folder / "s.txt").write_text("文本\n", encoding="utf-8")
    (folder / "s.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        jobs = {
            "s.mp3": ["-f", "lavfi", "-i", "sine=d=0.2", "-c:a", "libmp3lame"],
            "s.flac": ["-f", "lavfi", "-i", "sine=d=0.2"],
            "s.ogg": ["-f", "lavfi", "-i", "sine=d=0.2", "-c:a", "libvorbis"],
            "s.m4a": ["-f", "lavfi", "-i", "sine=d=0.2", "-c:a", "aac"],
            "s.mp4": ["-f", "lavfi", "-i", "testsrc=d=0.2:s=32x32:r=25", "-pix_fmt", "yuv420p"],
            "s.mxf": ["-f", "lavfi", "-i", "testsrc=d=0.2:s=32x32:r=25", "-c:v", "mpeg2video"],
            "s.mpg": ["-f", "lavfi", "-i", "testsrc=d=0.2:s=32x32:r=25", "-c:v", "mpeg1video"],
            "s2.mpg": [
                "-f",
                "lavfi",
                "-i",
                "testsrc=d=0.2:s=32x32:r=25",
                "-c:v",
                "mpeg2video",
                "-f",
                "vob",
            ],
            "s.ts": ["-f", "lavfi", "-i", "testsrc=d=0.2:s=32x32:r=25"],
            "s.avi": ["-f", "lavfi", "-i", "testsrc=d=0.2:s=32x32:r=25", "-c:v", "mpeg4"],
            "s.mov": ["-f", "lavfi", "-i", "testsrc=d=0.2:s=32x32:r=25"],
            "s.mkv": ["-f", "lavfi", "-i", "testsrc=d=0.2:s=32x32:r=25"],
            "s.webm": ["-f", "lavfi", "-i", "testsrc=d=0.2:s=32x32:r=25", "-c:v", "libvpx"],
        }
        for name, args in jobs.items():
            subprocess.run(
                [ffmpeg, "-v", "error", "-y", *args, str(folder / name)], check=True, timeout=60
            )
    return sorted(folder.iterdir())


@pytest.mark.slow
def test_verified_puids_were_seen_on_real_samples(tmp_path: Path, fixtures_dir: Path) -> None:
    """Every PUID the file lists under ``puids`` (not ``puids_unverified``) is one siegfried
    really produced for a sample here: the skeleton suite, an OFD, or a file made by Pillow,
    the wave module or ffmpeg."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg (Debian package) is needed to make the audio/video samples")
    skeleton = fixtures_dir / "format-id" / "skeleton-suite-dev-subset"
    samples = [p for p in skeleton.rglob("*.*") if p.suffix not in (".csv", ".txt")]
    samples += _generated_samples(tmp_path)
    samples.append(make_ofd(tmp_path / "x.ofd"))
    seen = {i.puid for i in identify_many(samples, workers=2).values()}
    listed = {p for e in load_policy().entries for p in e.puids}
    assert listed - seen == set()


def test_broken_policy_file_names_the_problem(tmp_path: Path) -> None:
    data = yaml.safe_load(POLICY_PATH.read_text(encoding="utf-8"))
    data["formats"][1]["puids"].append("lantai/ofd")
    bad = tmp_path / "p.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(bad)
    assert "PUID lantai/ofd 同时出现在「ofd」和「pdfa」中" in str(err.value)
    data = yaml.safe_load(POLICY_PATH.read_text(encoding="utf-8"))
    del data["formats"][-1]["decision"]
    data["formats"][0]["requires"] = {"codec": ["x"]}
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(bad)
    fields = {p.field for p in err.value.problems}
    last = len(data["formats"]) - 1
    assert fields == {"formats[0]", f"formats[{last}].decision"}


def test_shipped_policy_is_loaded_once() -> None:
    assert load_policy() is load_policy()
    assert identify  # the module-level API composes with identification (see above)
