"""Safe unpacking: every rule of issue 3 item 2, with crafted archives and CPython's test tars."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
import unicodedata
import warnings
import zipfile
from pathlib import Path

import pytest

from ingest.builders import make_bag
from lantai.crypto import new_sm3
from lantai.ingest.unpack import (
    ArchiveBomb,
    UnpackLimits,
    UnreadableArchive,
    UnsafeArchive,
    sniff,
    unpack,
)

LIMITS = UnpackLimits(max_bytes=64 << 20, max_entries=1000, max_ratio=200)


def _zip(path: Path, members: list[tuple[str, bytes]], **kw: int) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = kw.get("method", zipfile.ZIP_DEFLATED)
                z.writestr(info, data)
    return path


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> Path:
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as t:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                t.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                info.mtime = int(time.time())
                t.addfile(info, io.BytesIO(m[1]))
    return path


def _link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def _refused(archive: Path, dest: Path, rule: str, member: str, cls: type = UnsafeArchive) -> None:
    with pytest.raises(cls) as exc:
        unpack(archive, dest, limits=LIMITS)
    problem = exc.value.problems[0]
    assert problem.rule == rule
    assert problem.field == member
    assert member in exc.value.message
    assert problem.file == archive.name
    assert not dest.exists()  # nothing half-written


@pytest.mark.parametrize("form", ["zip", "tar", "tar.gz"])
def test_bag_archives_unpack_with_digests_in_one_pass(tmp_path: Path, form: str) -> None:
    archive = make_bag(tmp_path, form=form, name="bag")  # type: ignore[arg-type]
    assert sniff(archive) == ("zip" if form == "zip" else "tar")
    out = unpack(archive, tmp_path / "out", limits=LIMITS, extra=("md5",))
    assert out.archive_sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    sm3 = new_sm3()
    sm3.update(archive.read_bytes())
    assert out.archive_sm3 == sm3.hexdigest()
    assert out.archive_size == archive.stat().st_size
    on_disk = sorted(p.relative_to(out.root).as_posix() for p in out.root.rglob("*") if p.is_file())
    assert sorted(f.path for f in out.files) == on_disk
    for f in out.files:
        data = f.local.read_bytes()
        assert f.sha256 == hashlib.sha256(data).hexdigest()
        assert f.extra["md5"] == hashlib.md5(data).hexdigest()
        assert f.size == len(data)
        assert f.path == unicodedata.normalize("NFC", f.path)
    assert "bag/data" in out.directories


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "a/../../evil.txt", "/etc/evil", "C:/evil.txt", "a\\..\\evil.txt", "a\x07b"],
)
def test_unsafe_zip_names_are_refused(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "x.zip", [("ok.txt", b"fine"), (name, b"evil")])
    _refused(archive, tmp_path / "out", "压缩包成员路径安全", name)
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/evil.txt"])
def test_unsafe_tar_names_are_refused(tmp_path: Path, name: str) -> None:
    archive = _tar(tmp_path / "x.tar", [("ok.txt", b"fine"), (name, b"evil")])
    _refused(archive, tmp_path / "out", "压缩包成员路径安全", name)


def test_duplicate_and_nfc_colliding_names_are_refused(tmp_path: Path) -> None:
    dup = _zip(tmp_path / "dup.zip", [("a.txt", b"1"), ("a.txt", b"2")])
    _refused(dup, tmp_path / "o1", "成员重名", "a.txt")
    nfd = unicodedata.normalize("NFD", "档案é.txt")
    nfc = unicodedata.normalize("NFC", "档案é.txt")
    assert nfd != nfc
    clash = _zip(tmp_path / "nfc.zip", [(nfc, b"1"), (nfd, b"2")])
    _refused(clash, tmp_path / "o2", "成员重名", nfd)
    file_dir = _tar(tmp_path / "fd.tar", [("a", b"file"), ("a/b.txt", b"under a file")])
    _refused(file_dir, tmp_path / "o3", "成员重名", "a/b.txt")


def test_case_only_collisions_are_reported_not_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "case.zip", [("Readme.txt", b"1"), ("README.txt", b"2")])
    out = unpack(archive, tmp_path / "out", limits=LIMITS)
    assert len(out.files) == 2
    assert [n.code for n in out.notes] == ["GD-1-13"]
    assert "大小写" in out.notes[0].message


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = _tar(tmp_path / "out.tar", [("ok.txt", b"1"), _link("escape", "../../etc/passwd")])
    _refused(outside, tmp_path / "o1", "链接文件", "escape")
    absolute = _tar(tmp_path / "abs.tar", [_link("escape", "/etc/passwd")])
    _refused(absolute, tmp_path / "o2", "链接文件", "escape")
    inside = _tar(tmp_path / "in.tar", [("dir/real.txt", b"x"), _link("dir/alias", "real.txt")])
    out = unpack(inside, tmp_path / "o3", limits=LIMITS)
    assert [f.path for f in out.files] == ["dir/real.txt"]
    assert not (tmp_path / "o3" / "dir" / "alias").exists()
    assert not (tmp_path / "o3" / "dir" / "alias").is_symlink()
    assert out.notes[0].code == "GD-1-13" and "dir/alias" in out.notes[0].message


def test_zip_symlink_entry_is_skipped_or_refused(tmp_path: Path) -> None:
    def zip_link(path: Path, target: str) -> Path:
        with zipfile.ZipFile(path, "w") as z:
            info = zipfile.ZipInfo("link", date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            z.writestr(info, target)
        return path

    _refused(zip_link(tmp_path / "a.zip", "/etc/passwd"), tmp_path / "o1", "链接文件", "link")
    out = unpack(zip_link(tmp_path / "b.zip", "sibling.txt"), tmp_path / "o2", limits=LIMITS)
    assert out.files == [] and out.notes[0].code == "GD-1-13"


def test_hard_links_inside_are_staged_as_links(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "h.tar",
        [("a/orig.txt", b"same bytes"), _link("b/copy.txt", "a/orig.txt", hard=True)],
    )
    out = unpack(archive, tmp_path / "out", limits=LIMITS)
    orig, copy = out.files
    assert copy.path == "b/copy.txt" and copy.sha256 == orig.sha256 and copy.size == orig.size
    assert copy.local.read_bytes() == b"same bytes"
    assert os.stat(copy.local).st_ino == os.stat(orig.local).st_ino
    outside = _tar(tmp_path / "h2.tar", [_link("copy.txt", "../../etc/passwd", hard=True)])
    _refused(outside, tmp_path / "o2", "链接文件", "copy.txt")
    unknown = _tar(tmp_path / "h3.tar", [_link("copy.txt", "never/seen.txt", hard=True)])
    _refused(unknown, tmp_path / "o3", "链接文件", "copy.txt")


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_files_are_refused(tmp_path: Path, kind: bytes) -> None:
    info = tarfile.TarInfo("dev/thing")
    info.type = kind
    archive = _tar(tmp_path / "d.tar", [("ok.txt", b"1"), info])
    _refused(archive, tmp_path / "out", "特殊文件", "dev/thing")


def _cpython_members(fixtures_dir: Path, names: list[str], dest: Path) -> Path:
    """A tar made of the raw header and data blocks of chosen members of CPython's testtar.tar
    (extended GNU/PAX headers included), so each feature is tested on its real encoding."""
    src = fixtures_dir / "security" / "cpython-tar" / "testtar.tar"
    raw = src.read_bytes()
    with tarfile.open(src) as t:
        members = {m.name: m for m in t.getmembers()}
    out = bytearray()
    for name in names:
        m = members[name]
        end = m.offset_data + ((m.size + 511) // 512) * 512 if m.isreg() else m.offset_data
        out += raw[m.offset : end]
    out += bytes(1024)
    dest.write_bytes(bytes(out))
    return dest


def test_gnu_and_pax_long_names_from_cpython_testtar(tmp_path: Path, fixtures_dir: Path) -> None:
    with tarfile.open(fixtures_dir / "security" / "cpython-tar" / "testtar.tar") as t:
        names = [m.name for m in t.getmembers()]
    long_gnu = next(n for n in names if n.startswith("gnu/123/") and not n.endswith("sparse"))
    long_pax = next(n for n in names if n.startswith("pax/123/"))
    wanted = ["ustar/regtype", long_gnu, long_pax, "pax/umlauts-ÄÖÜäöüß", "misc/regtype-old-v7"]
    archive = _cpython_members(fixtures_dir, wanted, tmp_path / "sel.tar")
    out = unpack(archive, tmp_path / "out", limits=LIMITS)
    assert sorted(f.path for f in out.files) == sorted(wanted)
    assert all(f.size == 7011 for f in out.files)
    assert len({f.sha256 for f in out.files}) == 1  # CPython's members share one content


@pytest.mark.parametrize(
    "member", ["gnu/sparse", "gnu/sparse-0.0", "gnu/sparse-0.1", "gnu/sparse-1.0"]
)
def test_sparse_members_are_refused(tmp_path: Path, fixtures_dir: Path, member: str) -> None:
    archive = _cpython_members(fixtures_dir, ["ustar/regtype", member], tmp_path / "s.tar")
    with pytest.raises(UnsafeArchive) as exc:
        unpack(archive, tmp_path / "out", limits=LIMITS)
    assert exc.value.problems[0].rule == "特殊文件"
    assert "稀疏" in exc.value.message
    assert not (tmp_path / "out").exists()


def test_whole_cpython_testtar_is_refused_at_its_first_device(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    archive = fixtures_dir / "security" / "cpython-tar" / "testtar.tar"
    _refused(archive, tmp_path / "out", "特殊文件", "ustar/blktype")


def test_malformed_tar_is_unreadable(tmp_path: Path, fixtures_dir: Path) -> None:
    with pytest.raises(UnreadableArchive):
        unpack(
            fixtures_dir / "security" / "cpython-tar" / "recursion.tar",
            tmp_path / "o",
            limits=LIMITS,
        )
    assert not (tmp_path / "o").exists()
    other = tmp_path / "plain.txt"
    other.write_text("not an archive")
    with pytest.raises(UnreadableArchive):
        unpack(other, tmp_path / "o2", limits=LIMITS)


def test_zip_bomb_ratio_total_and_entries(tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "ratio.zip", [("zeros.bin", bytes(20 << 20))])
    _refused(bomb, tmp_path / "o1", "压缩炸弹防护", "zeros.bin", ArchiveBomb)
    big = _zip(tmp_path / "total.zip", [("r.bin", os.urandom(2 << 20))])
    with pytest.raises(ArchiveBomb):
        unpack(
            big,
            tmp_path / "o2",
            limits=UnpackLimits(max_bytes=1 << 20, max_entries=10, max_ratio=200),
        )
    many = _zip(tmp_path / "many.zip", [(f"f{i}", b"x") for i in range(12)])
    with pytest.raises(ArchiveBomb) as exc:
        unpack(
            many,
            tmp_path / "o3",
            limits=UnpackLimits(max_bytes=1 << 20, max_entries=10, max_ratio=200),
        )
    assert "成员数" in exc.value.message
    assert not any((tmp_path / n).exists() for n in ("o1", "o2", "o3"))


def test_compressed_tar_bomb(tmp_path: Path) -> None:
    bomb = _tar(tmp_path / "b.tar.gz", [("zeros.bin", bytes(30 << 20))], mode="w:gz")
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ArchiveBomb):
        unpack(
            bomb,
            tmp_path / "out",
            limits=UnpackLimits(max_bytes=1 << 30, max_entries=10, max_ratio=20),
        )
    assert not (tmp_path / "out").exists()


def test_encrypted_and_exotic_zip_members_are_refused(tmp_path: Path) -> None:
    from ingest.builders import _encrypted_zip

    enc = tmp_path / "enc.zip"
    enc.write_bytes(_encrypted_zip())
    _refused(enc, tmp_path / "o1", "压缩格式", "secret.txt")
    plain = _zip(tmp_path / "m.zip", [("a.txt", b"hello")], method=zipfile.ZIP_STORED)
    data = bytearray(plain.read_bytes())
    data[data.find(b"PK\x03\x04") + 8] = 99  # compression method: AES (WinZip)
    data[data.find(b"PK\x01\x02") + 10] = 99
    plain.write_bytes(bytes(data))
    _refused(plain, tmp_path / "o2", "压缩格式", "a.txt")


def test_gbk_zip_names_without_utf8_flag(tmp_path: Path) -> None:
    gbk = "文件.txt".encode("gb18030")
    placeholder = b"x" * len(gbk)
    archive = _zip(tmp_path / "gbk.zip", [(placeholder.decode(), b"content")])
    archive.write_bytes(archive.read_bytes().replace(placeholder, gbk))
    out = unpack(archive, tmp_path / "out", limits=LIMITS)
    assert [f.path for f in out.files] == ["文件.txt"]
    assert (tmp_path / "out" / "文件.txt").read_bytes() == b"content"


def test_destination_must_be_empty(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", [("a.txt", b"1")])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep").write_text("x")
    with pytest.raises(FileExistsError):
        unpack(archive, tmp_path / "busy", limits=LIMITS)
    assert (tmp_path / "busy" / "keep").exists()
