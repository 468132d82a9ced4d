"""The BagIt reader: the whole LoC conformance suite, and bags built with named defects."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import make_settings
from ingest.builders import make_bag, sample_items
from lantai.errors import InputError
from lantai.ingest import digests
from lantai.ingest.readers import bag_verdict, read_transfer
from lantai.ingest.transfer import FileRole, SourceKind, Transfer
from lantai.ingest.unpack import UnsafeArchive
from lantai.instance import Instance

SUITE = "bagit/loc-bagit-conformance-suite"


@pytest.fixture(scope="module")
def reader_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """One instance for the whole module: reading a bag never writes to the database."""
    inst = Instance.initialise(make_settings(tmp_path_factory.mktemp("home")))
    yield inst
    inst.close()


# Every case of the suite with the outcome this reader gives and why. "valid" = accepted with no
# remark; "warning" = accepted, with the remark quoted; "invalid" = rejected for the reason quoted.
# The suite's valid/ cases must not be invalid (two get a harmless warning, as the suite allows);
# warning/ cases must be warnings; invalid/ and the linux-/windows-only cases must be invalid.
EXPECTED: dict[str, tuple[str, str]] = {
    "v0.93/valid/basic-bag": ("valid", ""),
    "v0.93/valid/duplicate-metadata-entries": ("valid", ""),
    "v0.94/valid/basic-bag": ("valid", ""),
    "v0.94/valid/duplicate-metadata-entries": ("valid", ""),
    "v0.95/valid/basic-bag": ("valid", ""),
    "v0.95/valid/duplicate-metadata-entries": ("valid", ""),
    "v0.96/valid/bag-in-a-bag": ("valid", ""),
    "v0.96/valid/bag-with-encoded-names": ("valid", ""),
    "v0.96/valid/bag-with-escapable-characters": ("valid", ""),
    "v0.96/valid/bag-with-leading-dot-slash-in-manifest": ("warning", "以「./」开头"),
    "v0.96/valid/bag-with-space": ("valid", ""),
    "v0.96/valid/basic-bag": ("valid", ""),
    "v0.96/valid/duplicate-metadata-entries": ("valid", ""),
    "v0.96/valid/holey-bag": ("warning", "已在包中，不需获取"),
    "v0.97/valid/ISO-8859-1-encoded-tag-files": ("valid", ""),
    "v0.97/valid/UTF-16-encoded-tag-files": ("valid", ""),
    "v0.97/valid/bag-in-a-bag": ("valid", ""),
    "v0.97/valid/bag-with-encoded-names": ("valid", ""),
    "v0.97/valid/bag-with-escapable-characters": ("valid", ""),
    "v0.97/valid/bag-with-leading-dot-slash-in-manifest": ("warning", "以「./」开头"),
    "v0.97/valid/bag-with-space": ("valid", ""),
    "v0.97/valid/basic-bag": ("valid", ""),
    "v0.97/valid/duplicate-metadata-entries": ("valid", ""),
    "v0.97/valid/holey-bag": ("warning", "已在包中，不需获取"),
    "v0.97/valid/minimal-bag": ("valid", ""),
    "v0.97/valid/uncommon-metadata-separators": ("valid", ""),
    "v0.97/warning/duplicate-file-with-different-case": ("warning", "仅大小写不同"),
    "v0.97/warning/made-with-md5sum-tools": ("warning", "md5sum 二进制标记"),
    "v0.97/warning/relative-path": ("warning", "以「./」开头"),
    "v0.97/warning/same-filename-listed-twice-with-different-normalization": (
        "warning",
        "仅 Unicode 规范化形式不同",
    ),
    "v0.97/warning/same-filename-listed-twice-with-the-same-hash": (
        "warning",
        "列了两次（摘要相同）",
    ),
    # The fixture copy lost data/.DS_Store; the difference is only the absent system file.
    "v0.97/warning/special-system-files": ("warning", "系统文件"),
    "v0.97/invalid/baginfo-missing-encoding": ("invalid", "缺少 Tag-File-Character-Encoding"),
    "v0.97/invalid/bom-in-bagit.txt": ("invalid", "BOM"),
    "v0.97/invalid/corrupt-data-file": ("invalid", "MD5 摘要不一致"),
    "v0.97/invalid/corrupt-tag-file": ("invalid", "MD5 摘要不一致"),
    "v0.97/invalid/extra-file-in-bag": ("invalid", "未列入任何载荷清单"),
    "v0.97/invalid/invalid-version-number": ("invalid", "BagIt-Version「.97」格式不对"),
    "v0.97/invalid/missing-baginfo": ("invalid", "标签文件「bag-info.txt」不存在"),
    "v0.97/invalid/missing-bagit.txt": ("invalid", "没有 bagit.txt"),
    "v0.97/invalid/out-of-scope-file-paths-using-dot-notation": ("invalid", "路径穿越"),
    "v0.97/invalid/out-of-scope-file-paths-using-dot-notation-for-fetch": ("invalid", "路径穿越"),
    "v0.97/invalid/same-filename-listed-twice-with-different-hashes": ("invalid", "摘要不同"),
    "v0.97/linux-only/out-of-scope-file-paths-using-absolute-path": ("invalid", "绝对路径"),
    "v0.97/linux-only/out-of-scope-file-paths-using-absolute-path-for-fetch": (
        "invalid",
        "绝对路径",
    ),
    "v0.97/linux-only/out-of-scope-file-paths-using-shortcut": ("invalid", "以「~」开头"),
    "v0.97/linux-only/out-of-scope-file-paths-using-shortcut-for-fetch": ("invalid", "以「~」开头"),
    "v0.97/linux-only/out-of-scope-file-paths-using-shortcut-username": ("invalid", "以「~」开头"),
    "v0.97/linux-only/out-of-scope-file-paths-using-shortcut-username-for-fetch": (
        "invalid",
        "以「~」开头",
    ),
    "v0.97/windows-only/out-of-scope-file-paths-using-absolute-path": ("invalid", "反斜杠"),
    "v0.97/windows-only/out-of-scope-file-paths-using-absolute-path-for-fetch": (
        "invalid",
        "反斜杠",
    ),
    "v0.97/windows-only/out-of-scope-file-paths-using-shortcut": ("invalid", "反斜杠"),
    "v0.97/windows-only/out-of-scope-file-paths-using-shortcut-for-fetch": ("invalid", "反斜杠"),
    "v0.97/windows-only/out-of-scope-file-paths-using-unc": ("invalid", "绝对路径"),
    "v0.97/windows-only/out-of-scope-file-paths-using-unc-for-fetch": ("invalid", "绝对路径"),
    # bagit-python accepts this one; RFC 8493 §2.1.1 allows exactly one space after the colon.
    "v1.0/invalid/bagit-with-invalid-whitespace": ("invalid", "冒号前无空格"),
    "v1.0/invalid/notAllManifestsListAllFiles": ("invalid", "未列入任何载荷清单"),
    "v1.0/invalid/same-filename-listed-twice-with-different-hashes": ("invalid", "摘要不同"),
    "v1.0/invalid/same-filename-listed-twice-with-the-same-hash": ("invalid", "只列一次"),
    "v1.0/valid/basicBag": ("valid", ""),
}


def _cases(fixtures_dir: Path) -> list[str]:
    root = fixtures_dir / SUITE
    return sorted(p.relative_to(root).as_posix() for p in root.glob("v*/*/*") if p.is_dir())


def test_table_covers_the_whole_suite(fixtures_dir: Path) -> None:
    assert _cases(fixtures_dir) == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_conformance_suite(
    case: str, reader_instance: Instance, fixtures_dir: Path, tmp_path: Path
) -> None:
    expected, reason = EXPECTED[case]
    group = case.split("/")[1]
    bag = fixtures_dir / SUITE / case
    try:
        transfer = read_transfer(reader_instance, bag, staging=tmp_path / "staging")
    except InputError as exc:
        verdict, messages = "invalid", [str(exc)]
        assert not any((tmp_path / "staging").iterdir())
    else:
        verdict = bag_verdict(transfer)
        bagit = transfer.structure["bagit"]
        messages = [e["message"] for e in bagit["errors"] or bagit["warnings"]]
        assert transfer.kind is SourceKind.BAGIT
    assert verdict == expected, messages
    if group == "valid":
        assert verdict != "invalid"
    elif group == "warning":
        assert verdict == "warning"
    else:
        assert verdict == "invalid"
    if reason:
        assert any(reason in m for m in messages), messages


def test_suite_bags_are_read_in_place_and_never_modified(
    reader_instance: Instance, fixtures_dir: Path, tmp_path: Path
) -> None:
    bag = fixtures_dir / SUITE / "v0.97" / "valid" / "bag-with-space"
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in bag.rglob("*") if p.is_file()}
    transfer = read_transfer(reader_instance, bag, staging=tmp_path / "s")
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in bag.rglob("*") if p.is_file()}
    assert after == before
    content = {f.path: f for f in transfer.content_files()}
    assert set(content) == {
        "dir1/test3.txt",
        "dir2/dir3/test5.txt",
        "dir2/test4.txt",
        "test 1.txt",
        "test2.txt",
    }
    f = content["test 1.txt"]
    # Copied into staging in the one read that hashed it: later steps use exactly those bytes.
    assert f.local == tmp_path / "s" / "copies" / "content" / "test 1.txt"
    assert f.local.read_bytes() == (bag / "data" / "test 1.txt").read_bytes()
    assert f.sha256 == hashlib.sha256(f.local.read_bytes()).hexdigest()
    assert f.declared == {"md5": "5a105e8b9d40e1329780d62ea2265d8a"}
    tags = {f.path for f in transfer.files if f.role is FileRole.TAG}
    assert tags == {"bag-info.txt", "bagit.txt", "manifest-md5.txt", "tagmanifest-md5.txt"}
    # bag-info has no 件数/字节数/方式: it is not a 登记表
    assert transfer.register is None
    assert transfer.structure["bagit"]["bag_info"]["Source-Organization"] == ["Spengler University"]
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["copies"]
    copies = {p for p in (tmp_path / "s" / "copies").rglob("*") if p.is_file()}
    assert copies == {f.local for f in transfer.files}


# -- bags made by the builders ---------------------------------------------------------------------


def _read(reader_instance: Instance, path: Path, tmp_path: Path) -> Transfer:
    return read_transfer(reader_instance, path, staging=tmp_path / "staging")


@pytest.mark.parametrize("form", ["dir", "zip", "tar.gz"])
def test_clean_transfer_bag(reader_instance: Instance, tmp_path: Path, form: str) -> None:
    items = sample_items(3)
    bag = make_bag(tmp_path, items, form=form)  # type: ignore[arg-type]
    t = _read(reader_instance, bag, tmp_path)
    assert bag_verdict(t) == "valid", t.structure["bagit"]
    assert [n for n in t.notes if n.severity == "error"] == []
    assert [r.key for r in t.records] == [i.key for i in items]
    first = t.records[0]
    assert first.values["title"] == items[0].values["title"]
    assert first.values["archival_code"] == "Z109-WS·2011-Y-BGS-0001"
    assert first.files == items[0].file_names
    assert [s.action for s in first.process] == ["起草", "审核", "签发"]
    assert first.location == "metadata/目录.csv 第2行"
    by_path = {f.path: f for f in t.content_files()}
    for item in items:
        for name, data in item.files:
            f = by_path[name]
            assert f.record_key == item.key
            assert f.sha256 == hashlib.sha256(data).hexdigest() == f.declared["sha256"]
            assert f.sm3 == f.declared["sm3"]
    assert t.register is not None
    assert (t.register.unit, t.register.items, t.register.method) == (
        "某市人民政府办公室",
        3,
        "在线",
    )
    payload = sum(f.size for f in t.files if f.role is not FileRole.TAG)
    assert (t.declared.files, t.declared.bytes) == (6, payload)
    if form == "dir":
        assert t.package_sha256 is None
    else:
        assert t.package_sha256 == hashlib.sha256(bag.read_bytes()).hexdigest()
        assert t.package_size == bag.stat().st_size
        assert t.structure["archive"]["root"] == "transfer-bag"


def test_bad_sm3_is_left_to_the_check_but_makes_the_bag_invalid(
    reader_instance: Instance, tmp_path: Path
) -> None:
    t = _read(reader_instance, make_bag(tmp_path, defects=["bad_sm3"]), tmp_path)
    f = t.file("2011-0001-正文.ofd")
    assert f is not None and f.declared["sm3"] != f.sm3 and f.declared["sha256"] == f.sha256
    assert bag_verdict(t) == "invalid"
    assert [e["code"] for e in t.structure["bagit"]["errors"]] == ["GD-1-1"]
    assert not [n for n in t.notes if n.code == "GD-1-1"]  # GD-1-1 compares SHA-256/SM3 itself


def test_md5_manifest_is_verified_in_the_same_read(
    reader_instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bag = make_bag(tmp_path, algorithms=("md5",), defects=["tampered_file"], form="zip")

    def no_second_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("a staged file was read again")

    monkeypatch.setattr(digests, "hash_file", no_second_read)
    t = _read(reader_instance, bag, tmp_path)
    notes = [n for n in t.notes if n.code == "GD-1-1"]
    assert [n.file for n in notes] == ["2011-0001-正文.ofd"]
    assert notes[0].severity == "error" and "MD5 摘要与发送方声明的不一致" in notes[0].message


@pytest.mark.parametrize(
    ("defect", "code", "fragment"),
    [
        ("wrong_oxum", "GD-2-2", "Payload-Oxum"),
        ("unlisted_file", "GD-1-11", "unlisted.txt"),
        ("missing_payload", "GD-2-7", "ghost.txt"),
        ("bad_tagmanifest", "GD-1-1", "SHA256 摘要与发送方声明的不一致"),
    ],
)
def test_bagit_defects_become_notes(
    reader_instance: Instance, tmp_path: Path, defect: str, code: str, fragment: str
) -> None:
    t = _read(reader_instance, make_bag(tmp_path, defects=[defect]), tmp_path)
    assert bag_verdict(t) == "invalid"
    hits = [n for n in t.notes if n.code == code and n.severity == "error"]
    assert hits and any(fragment in n.message or fragment in n.file for n in hits), t.notes


def test_missing_and_extra_files_are_left_to_linkage_checks(
    reader_instance: Instance, tmp_path: Path
) -> None:
    t = _read(reader_instance, make_bag(tmp_path, defects=["missing_file", "extra_file"]), tmp_path)
    assert bag_verdict(t) == "valid"  # the bag itself is consistent
    referenced = {p for r in t.records for p in r.files}
    present = {f.path for f in t.content_files()}
    assert referenced - present == {"2011-0001-正文.ofd"}
    assert present - referenced == {"说明-未登记.txt"}
    orphan = t.file("说明-未登记.txt")
    assert orphan is not None and orphan.record_key is None


def test_register_from_bag_info_when_no_register_file(
    reader_instance: Instance, tmp_path: Path
) -> None:
    bag = make_bag(tmp_path, defects=["wrong_count"])
    (bag / "metadata" / "登记表.yaml").unlink()
    t = _read(reader_instance, bag, tmp_path)
    assert t.register is not None
    assert (t.register.unit, t.register.time, t.register.items) == (
        "某市人民政府办公室",
        "2012-06-30",
        4,
    )


def test_bag_of_eep_packages(reader_instance: Instance, tmp_path: Path) -> None:
    from ingest.builders import make_eep

    src = tmp_path / "eeps"
    for item in sample_items(2):
        make_eep(src, item)
    bag = tmp_path / "bag"
    (bag / "data").mkdir(parents=True)
    lines = []
    for p in sorted(src.iterdir()):
        (bag / "data" / p.name).write_bytes(p.read_bytes())
        lines.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  data/{p.name}\n")
    (bag / "manifest-sha256.txt").write_text("".join(lines), encoding="utf-8")
    (bag / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    t = _read(reader_instance, bag, tmp_path)
    assert bag_verdict(t) == "valid"
    assert len(t.records) == 2
    assert {f.role for f in t.files if f.path.endswith(".eep")} == {FileRole.METADATA}
    assert t.structure["eep"]["封装包类型"] == "原始型"
    assert all(r.files and all(t.file(p) is not None for p in r.files) for r in t.records)


def test_unsafe_archive_leaves_staging_empty(reader_instance: Instance, tmp_path: Path) -> None:
    import zipfile

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("bag/bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        z.writestr("bag/../../escape.txt", "x")
    with pytest.raises(UnsafeArchive):
        _read(reader_instance, evil, tmp_path)
    assert list((tmp_path / "staging").iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()


def test_progress_counts_every_byte_once_per_step(
    reader_instance: Instance, tmp_path: Path
) -> None:
    archive = make_bag(tmp_path, form="zip", algorithms=("sha256",))
    seen: list[int] = []
    t = read_transfer(reader_instance, archive, staging=tmp_path / "s", progress=seen.append)
    unpacked = sum(f.size for f in t.files)
    assert sum(seen) == unpacked  # unpacked and hashed in one pass: counted once
    seen.clear()
    bag = make_bag(tmp_path / "d", algorithms=("sha256",))
    t2 = read_transfer(reader_instance, bag, staging=tmp_path / "s2", progress=seen.append)
    assert sum(seen) == sum(f.size for f in t2.files)


def test_only_small_files_read_in_place_are_copied_while_hashed(
    reader_instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lantai.ingest.readers import base

    bag = make_bag(tmp_path, sample_items(2), form="dir")
    content = sorted(
        (p for p in (bag / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
    )
    limit = content[0].stat().st_size  # the smallest file is copied, larger ones are not
    assert content[-1].stat().st_size > limit
    monkeypatch.setattr(base, "COPY_WHILE_HASHING_MAX", limit)
    t = _read(reader_instance, bag, tmp_path)
    staging = tmp_path / "staging"
    for f in t.content_files():
        if f.size <= limit:
            assert f.local == staging / "copies" / "content" / f.path
        else:  # left where it is: the AIP copies it in the kernel (size and mtime guarded)
            assert f.local == bag / "data" / f.path
        assert hashlib.sha256(f.local.read_bytes()).hexdigest() == f.sha256


def test_by_default_every_file_read_in_place_is_copied_while_hashed(
    reader_instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lantai.ingest import digests

    bag = make_bag(tmp_path, sample_items(2), form="dir")
    monkeypatch.setattr(digests, "DIRECT_COPY_MIN", 1)  # the large-file path (O_DIRECT) for all
    t = _read(reader_instance, bag, tmp_path)
    staging = tmp_path / "staging"
    for f in t.files:
        assert f.local == staging / "copies" / f.role.value / f.path  # the AIP links these
        assert hashlib.sha256(f.local.read_bytes()).hexdigest() == f.sha256
