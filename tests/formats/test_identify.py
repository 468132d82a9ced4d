"""Format identification: PRONOM PUIDs (siegfried) against the skeleton suite, our OFD rule,
libmagic MIME types, and the batch API."""

from __future__ import annotations

import csv
import shutil
import wave
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from formats.ofd_builder import make_ofd
from lantai.formats.identify import (
    OFD_A_NAME,
    OFD_MIME,
    OFD_NAME,
    OFD_PUID,
    identification_tool,
    identify,
    identify_many,
    is_ofd,
)

# Skeleton files siegfried cannot identify as their filename says. They are bare byte-signature
# skeletons of *container* formats (OLE2, ZIP); siegfried 1.11 tries the container signatures
# first, finds no valid container and reports the container's generic format, or nothing.
SIEGFRIED_DIFFERS = {
    "fmt/fmt-126-signature-id-172.ppt": "fmt/111",
    "fmt/fmt-290-signature-id-306.odt": "x-fmt/3",
    "fmt/fmt-290-signature-id-307.odt": "x-fmt/3",
    "fmt/fmt-291-signature-id-308.odt": "x-fmt/3",
    "fmt/fmt-294-signature-id-312.ods": None,
    "fmt/fmt-294-signature-id-313.ods": None,
    "fmt/fmt-295-signature-id-314.ods": None,
    "fmt/fmt-39-signature-id-128.doc": "fmt/111",
    "fmt/fmt-40-signature-id-182.doc": "fmt/111",
    "fmt/fmt-483-signature-id-905.epub": None,
    "x-fmt/x-fmt-430-signature-id-208.msg": "fmt/111",
}


@pytest.fixture(scope="module")
def skeleton(fixtures_dir: Path) -> tuple[Path, list[dict[str, str]]]:
    root = fixtures_dir / "format-id" / "skeleton-suite-dev-subset"
    with (root / "ground_truth.csv").open(encoding="utf-8") as f:
        return root, list(csv.DictReader(f))


def test_skeleton_suite_ground_truth(skeleton: tuple[Path, list[dict[str, str]]]) -> None:
    root, rows = skeleton
    found = identify_many([root / r["path"] for r in rows], workers=2)
    assert len(found) == len(rows) == 86
    wrong = {}
    for r in rows:
        info = found[root / r["path"]]
        if info.puid != r["expected_puid"]:
            wrong[r["path"]] = info.puid
    assert wrong == SIEGFRIED_DIFFERS
    hits = len(rows) - len(wrong)
    assert hits == 75  # 87 %
    pdf = found[root / "fmt/fmt-276-signature-id-289.pdf"]
    assert (pdf.name, pdf.version, pdf.mime) == (
        "Acrobat PDF 1.7 - Portable Document Format",
        "1.7",
        "application/pdf",
    )
    assert "byte match" in pdf.basis
    pdfa = found[root / "fmt/fmt-476-signature-id-1955.pdf"]
    assert pdfa.puid == "fmt/476"


def test_container_failures_carry_a_warning(skeleton: tuple[Path, list[dict[str, str]]]) -> None:
    root, _ = skeleton
    info = identify(root / "fmt/fmt-39-signature-id-128.doc")
    assert info.puid == "fmt/111" and info.warning is not None
    assert info.warning.startswith("siegfried 报告错误：mscfb")


@pytest.mark.parametrize(
    "name",
    [
        "ofdrw-archive__test-ofda.ofd",
        "ofdrw-converter__helloworld.ofd",
        "ofdrw-sign__namespace_no_std.ofd",
        "ofdrw-reader__发票示例.ofd",
    ],
)
def test_ofd_fixtures_are_ofd(fixtures_dir: Path, name: str) -> None:
    info = identify(fixtures_dir / "ofd" / "ofdrw-samples" / name)
    assert info.puid == OFD_PUID and info.mime == OFD_MIME and is_ofd(info)
    assert "OFD.xml" in info.basis


def test_every_ofd_fixture_is_identified(fixtures_dir: Path) -> None:
    paths = sorted((fixtures_dir / "ofd" / "ofdrw-samples").glob("*.ofd"))
    found = identify_many(paths, workers=2)
    assert {p.name for p, i in found.items() if i.puid != OFD_PUID} == set()
    assert [p.name for p, i in found.items() if i.name == OFD_A_NAME] == [
        "ofdrw-archive__test-ofda.ofd"
    ]
    legacy = [p.name for p, i in found.items() if i.warning and "非标准命名空间" in i.warning]
    assert "ofdrw-sign__namespace_no_std.ofd" in legacy
    assert "ofdrw-converter__helloworld.ofd" not in legacy


def test_ofd_rule_needs_the_namespace_not_the_name(tmp_path: Path, fixtures_dir: Path) -> None:
    fake = tmp_path / "fake.ofd"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("OFD.xml", '<OFD xmlns="urn:other"/>')
    info = identify(fake)
    assert info.puid == "x-fmt/263"  # a ZIP, not an OFD
    renamed = tmp_path / "document.zip"
    shutil.copy(fixtures_dir / "ofd" / "ofdrw-samples" / "ofdrw-converter__helloworld.ofd", renamed)
    assert identify(renamed).puid == OFD_PUID
    built = make_ofd(tmp_path / "built.ofd", version="1.2", doc_type="OFD-A")
    info = identify(built)
    assert (info.puid, info.name, info.version) == (OFD_PUID, OFD_A_NAME, "1.2")
    assert identify(make_ofd(tmp_path / "plain.ofd")).name == OFD_NAME


def test_generated_formats(tmp_path: Path) -> None:
    img = Image.new("RGB", (32, 24), (10, 120, 200))
    img.save(tmp_path / "a.png")
    img.save(tmp_path / "a.tif")
    img.save(tmp_path / "a.jpg")
    img.save(tmp_path / "a.jp2")
    with wave.open(str(tmp_path / "a.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    (tmp_path / "a.txt").write_text("兰台档案 plain text\n", encoding="utf-8")
    (tmp_path / "a.xml").write_text('<?xml version="1.0"?><a/>', encoding="utf-8")
    found = {p.name: i for p, i in identify_many(sorted(tmp_path.iterdir()), workers=2).items()}
    assert {n: i.puid for n, i in found.items()} == {
        "a.png": "fmt/11",
        "a.tif": "fmt/353",
        "a.jpg": "fmt/43",
        "a.jp2": "x-fmt/392",
        "a.wav": "fmt/141",
        "a.txt": "x-fmt/111",
        "a.xml": "fmt/101",
    }
    assert found["a.png"].mime == "image/png"
    assert found["a.jp2"].mime == "image/jp2"


def test_extension_mismatch_and_libmagic_second_opinion(tmp_path: Path) -> None:
    Image.new("L", (8, 8)).save(tmp_path / "scan.png")
    (tmp_path / "scan.png").rename(tmp_path / "scan.pdf")
    info = identify(tmp_path / "scan.pdf")
    assert info.puid == "fmt/11"
    assert info.warning is not None and "扩展名与识别出的格式不符" in info.warning
    (tmp_path / "notes.pdf").write_text("only text, called .pdf\n", encoding="utf-8")
    text = identify(tmp_path / "notes.pdf")
    assert text.mime == "text/plain"  # libmagic reads the bytes; the extension says PDF


def test_empty_missing_and_unknown_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.touch()
    missing = tmp_path / "missing.bin"
    unknown = tmp_path / "blob"
    unknown.write_bytes(b"\x7fLANTAI-NO-SUCH-FORMAT\x00" * 50)
    found = identify_many([empty, missing, unknown])
    assert found[empty].puid is None and found[empty].name == "空文件"
    assert found[empty].warning is not None and "空文件" in found[empty].warning
    assert found[missing].puid is None and found[missing].warning is not None
    assert "no such file" in found[missing].warning
    assert found[unknown].puid is None and found[unknown].mime == "application/octet-stream"


def test_batch_equals_single_and_keeps_given_paths(
    skeleton: tuple[Path, list[dict[str, str]]],
) -> None:
    root, rows = skeleton
    paths = [root / r["path"] for r in rows[:20]]
    many = identify_many(paths + paths[:3], workers=3)
    assert list(many) == paths
    for p in paths[:5]:
        assert identify(p) == many[p]
    assert identify_many([], workers=4) == {}


def test_tool_info() -> None:
    tool = identification_tool()
    assert tool.name.startswith("siegfried")
    assert tool.version.count(".") == 2
    assert "DROID_SignatureFile" in tool.signature
    assert "siegfried" in str(tool)


def test_child_process_mode_gives_the_same_answers(
    skeleton: tuple[Path, list[dict[str, str]]], tmp_path: Path
) -> None:
    root, rows = skeleton
    paths = [root / r["path"] for r in rows] + [make_ofd(tmp_path / "c.ofd"), tmp_path / "gone"]
    assert identify_many(paths, workers=2, in_process=False) == identify_many(
        paths, workers=2, in_process=True
    )
