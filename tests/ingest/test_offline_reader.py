"""Offline transfer: a folder of files, the agency's catalogue spreadsheet, a 登记表."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import make_settings
from ingest.builders import make_offline, sample_items
from lantai.ingest.readers import TransferUnreadable, read_transfer
from lantai.ingest.transfer import FileRole, SourceKind, Transfer
from lantai.instance import Instance


@pytest.fixture(scope="module")
def reader_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    inst = Instance.initialise(make_settings(tmp_path_factory.mktemp("home")))
    yield inst
    inst.close()


def _read(inst: Instance, path: Path, tmp_path: Path, **kw: str) -> Transfer:
    return read_transfer(inst, path, staging=tmp_path / "staging", **kw)  # type: ignore[arg-type]


def _snapshot(root: Path) -> dict[str, tuple[int, float]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("catalogue", "register"), [("xlsx", "yaml"), ("csv", "xlsx"), ("csv", "csv")]
)
def test_clean_offline_transfer(
    reader_instance: Instance, tmp_path: Path, catalogue: str, register: str
) -> None:
    items = sample_items(3)
    folder = make_offline(tmp_path, items, catalogue=catalogue, register=register)  # type: ignore[arg-type]
    before = _snapshot(folder)
    t = _read(reader_instance, folder, tmp_path)
    assert t.kind is SourceKind.OFFLINE and t.payload_root == folder
    assert [n for n in t.notes if n.severity == "error"] == []
    assert [r.key for r in t.records] == [i.key for i in items]
    rec = t.records[1]
    assert rec.values["title"] == items[1].values["title"]
    assert rec.values["doc_number"] == "市府办发〔2011〕2号"
    assert rec.source_names["doc_number"] == "文件编号"
    assert rec.files == [f"文件/{n}" for n in items[1].file_names]
    assert rec.location == f"目录.{catalogue} 第3行"
    name, data = items[1].files[0]
    assert rec.electronic[f"文件/{name}"] == {
        "计算机文件名": name,
        "计算机文件大小": str(len(data)),
    }
    assert [(s.action, s.agent) for s in rec.process] == [
        ("起草", "张三"),
        ("审核", "李四"),
        ("签发", "王五"),
    ]
    f = t.file(f"文件/{name}")
    assert f is not None and f.role is FileRole.CONTENT and f.record_key == rec.key
    assert f.sha256 == hashlib.sha256(data).hexdigest() == f.declared["sha256"]
    assert f.sm3 == f.declared["sm3"]
    meta = {x.path for x in t.files if x.role is FileRole.METADATA}
    assert meta == {f"目录.{catalogue}", "过程信息.csv", f"登记表.{register}"}
    assert t.register is not None
    assert (t.register.unit, t.register.category, t.register.items, t.register.method) == (
        "某市人民政府办公室",
        "文书",
        3,
        "离线（光盘）",
    )
    assert t.register.bytes == sum(len(b) for i in items for _, b in i.files) == t.total_bytes
    assert _snapshot(folder) == before  # read in place, never modified
    # …and copied into staging in the one read that hashed it (the AIP links these copies)
    assert {p for p in (tmp_path / "staging").rglob("*") if p.is_file()} == {
        x.local for x in t.files
    }
    assert all(x.local.is_relative_to(tmp_path / "staging") for x in t.files)


def test_register_declares_what_was_written(reader_instance: Instance, tmp_path: Path) -> None:
    t = _read(
        reader_instance, make_offline(tmp_path, defects=["wrong_count", "wrong_bytes"]), tmp_path
    )
    assert t.register is not None
    assert t.register.items == len(t.records) + 1
    assert t.register.bytes == t.total_bytes + 1


def test_missing_extra_and_tampered_files(reader_instance: Instance, tmp_path: Path) -> None:
    folder = make_offline(tmp_path, defects=["missing_file", "extra_file", "tampered_file"])
    t = _read(reader_instance, folder, tmp_path)
    referenced = {p for r in t.records for p in r.files}
    present = {f.path for f in t.content_files()}
    assert "文件/2011-0001-正文.ofd" in referenced - present
    assert present - referenced == {"文件/说明-未登记.txt"}
    t2 = _read(
        reader_instance, make_offline(tmp_path / "b", defects=["tampered_file"]), tmp_path / "b"
    )
    f = t2.file("文件/2011-0001-正文.ofd")
    assert f is not None and f.sha256 != f.declared["sha256"] and f.sm3 != f.declared["sm3"]


def test_declared_md5_is_verified_by_the_reader(reader_instance: Instance, tmp_path: Path) -> None:
    import csv

    folder = tmp_path / "md5"
    (folder / "文件").mkdir(parents=True)
    (folder / "文件" / "a.txt").write_bytes(b"hello")
    (folder / "文件" / "b.txt").write_bytes(b"world")
    with (folder / "目录.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["电子文件号", "题名", "文件名", "MD5"])
        w.writerow(["k1", "甲", "a.txt", hashlib.md5(b"hello").hexdigest()])
        w.writerow(["k2", "乙", "b.txt", hashlib.md5(b"other").hexdigest()])
    t = _read(reader_instance, folder, tmp_path)
    assert [r.files for r in t.records] == [["文件/a.txt"], ["文件/b.txt"]]  # bare names resolved
    notes = [n for n in t.notes if n.code == "GD-1-1"]
    assert [n.file for n in notes] == ["文件/b.txt"]


def test_per_file_format_and_creating_application(
    reader_instance: Instance, tmp_path: Path
) -> None:
    folder = tmp_path / "e"
    (folder / "文件").mkdir(parents=True)
    (folder / "文件" / "a.txt").write_bytes(b"hello")
    (folder / "文件" / "b.txt").write_bytes(b"world")
    (folder / "目录.csv").write_text(
        "电子文件号,题名,文件名,格式信息,文档创建程序\n"
        "k1,甲,a.txt;b.txt,TXT;TXT,WPS Office 2019;记事本\n",
        encoding="utf-8",
    )
    t = _read(reader_instance, folder, tmp_path)
    assert [n for n in t.notes if n.code == "GD-1-12"] == []  # both columns are understood
    assert t.records[0].electronic == {
        "文件/a.txt": {
            "计算机文件名": "a.txt",
            "格式信息": "TXT",
            "文档创建程序": "WPS Office 2019",
        },
        "文件/b.txt": {"计算机文件名": "b.txt", "格式信息": "TXT", "文档创建程序": "记事本"},
    }


def test_unknown_columns_are_reported(reader_instance: Instance, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "x.pdf").write_bytes(b"%PDF")
    (folder / "目录.csv").write_text("题名,文件名,心情指数\n甲,x.pdf,高\n", encoding="utf-8")
    t = _read(reader_instance, folder, tmp_path)
    warning = [n for n in t.notes if n.code == "GD-1-12"]
    assert (
        len(warning) == 1 and "心情指数" in warning[0].message and warning[0].severity == "warning"
    )
    assert "心情指数" not in t.records[0].values


def test_folder_without_catalogue_is_unreadable(reader_instance: Instance, tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(b"%PDF")
    with pytest.raises(TransferUnreadable) as exc:
        _read(reader_instance, folder, tmp_path)
    assert "目录" in exc.value.message
    assert list((tmp_path / "staging").iterdir()) == []


def test_symlinks_in_the_folder_are_not_followed(reader_instance: Instance, tmp_path: Path) -> None:
    folder = make_offline(tmp_path, sample_items(1))
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    os.symlink(secret, folder / "文件" / "link.txt")
    t = _read(reader_instance, folder, tmp_path)
    assert t.file("文件/link.txt") is None
    assert any(n.code == "GD-1-13" and "link.txt" in n.message for n in t.notes)


def test_devices_in_the_folder_make_it_unreadable(
    reader_instance: Instance, tmp_path: Path
) -> None:
    folder = make_offline(tmp_path, sample_items(1))
    os.mkfifo(folder / "文件" / "pipe")
    with pytest.raises(TransferUnreadable) as exc:
        _read(reader_instance, folder, tmp_path)
    assert exc.value.problems[0].file == "文件/pipe"
