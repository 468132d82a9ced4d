"""Builders of transfer packages for ingest tests, each with named defects.

Import with ``from ingest.builders import …`` (``tests`` is on the path). Every builder writes a
package under ``dest`` and returns its path; feed it to ``lantai.ingest.readers.read_transfer``.

    items = sample_items(3)                              # three WS 件 of 2011, two OFD files each
    bag = make_bag(tmp_path, items, defects=["bad_sm3"])  # BagIt 1.0 directory
    eep = make_eep(tmp_path, items[0], signer=generate_sm2_signer("张三"))
    off = make_offline(tmp_path, items, defects=["wrong_count"])

A defect a builder cannot express raises ``ValueError`` (a test never silently builds a clean
package). :data:`DEFECTS` lists every defect with the check it is meant to trip:

metadata (every builder; applied to the items before writing):
  ``missing_required`` 责任者 of item 1 empty (GD-2-4) · ``long_title`` 题名 of 501 characters
  (GD-1-2) · ``bad_date`` 日期 "2021-13-40" (GD-1-3) · ``bad_retention`` 保管期限 "5年" (GD-1-4)
  · ``implausible_date`` 年度 2020 with 日期 20190101 (GD-1-5) · ``future_date`` 日期 20990101
  (GD-1-5) · ``control_char`` 题名 with U+0007 (GD-1-6) · ``bad_archival_code``
  "Z109-WS-2011-Y-BGS-1" (GD-1-7) · ``duplicate_archival_code`` item 2 has item 1's 档号 (GD-1-8)
  · ``item_no_gap`` 件号 1, 2, 4 … (GD-2-6) · ``no_process`` no process metadata (GD-2-5)
  · ``wrong_size`` 计算机文件大小 of item 1's 正文 declared one byte more (GD-1-10)
  · ``wrong_pages`` 页数 of item 1 one more than the OFD has (GD-1-10 / 页数)
content (every builder):
  ``missing_attachment`` item 1's 附件 not in the package (GD-2-7) · ``wrong_extension`` item 1's
  正文 is OFD bytes named ``.pdf`` (GD-1-10) · ``corrupt_content`` item 1's 正文 truncated to 40
  bytes (GD-3-2) · ``doc_format`` item 1's 附件 is a legacy ``.doc`` (OLE2) (GD-3-3)
  · ``encrypted_zip`` item 1's 附件 is a ZIP with an encrypted member (GD-3-8) · ``eicar`` item 1's
  附件 is the EICAR anti-virus test file (GD-4-2)
package (make_bag, make_offline):
  ``missing_file`` item 1's 正文 referenced by the catalogue but absent (and unlisted) (GD-1-11)
  · ``extra_file`` a payload file no record references (GD-1-11) · ``wrong_count`` 登记表 件数
  one more than sent (GD-2-1) · ``wrong_bytes`` 登记表 字节数 one more (GD-2-2)
  · ``no_register`` no 登记表 at all · ``bad_sm3`` / ``bad_sha256`` the declared SM3 / SHA-256 of
  item 1's 正文 is wrong (GD-1-1) · ``tampered_file`` item 1's 正文 changed after its digests
  were declared (GD-1-1)
BagIt only (make_bag):
  ``wrong_oxum`` Payload-Oxum one byte more · ``unlisted_file`` a payload file missing from the
  manifests (BagIt invalid) · ``missing_payload`` a manifest entry whose file is absent (BagIt
  invalid) · ``bad_tagmanifest`` a wrong tag-manifest digest
EEP only (make_eep):
  ``missing_data`` item 1's 正文 编码 carries no data (GD-2-7 / GD-1-11) · ``no_create_time`` no
  封装包创建时间 (GD-2-10; schema-invalid) · ``truncated`` the XML cut in half (GD-3-1)
  · ``bad_signature`` signed, then one metadata value changed (GD-1-1) · ``bad_base64`` an
  invalid character inside 编码数据 (GD-3-1)
"""

from __future__ import annotations

import csv
import hashlib
import io
import struct
import tarfile
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from lantai.crypto import new_sm3
from lantai.ingest.eep_model import EepContent, EepDocument, EepPackage, EepSource
from lantai.ingest.eep_signing import Signer
from lantai.ingest.eep_writer import write_eep, write_revision
from lantai.ingest.transfer import ProcessStep

__all__ = [
    "DEFECTS",
    "Item",
    "eicar_bytes",
    "make_bag",
    "make_eep",
    "make_eep_set",
    "make_offline",
    "minimal_ofd",
    "minimal_pdf",
    "sample_items",
]

DEFECTS: dict[str, str] = {
    "missing_required": "GD-2-4",
    "long_title": "GD-1-2",
    "bad_date": "GD-1-3",
    "bad_retention": "GD-1-4",
    "implausible_date": "GD-1-5",
    "future_date": "GD-1-5",
    "control_char": "GD-1-6",
    "bad_archival_code": "GD-1-7",
    "duplicate_archival_code": "GD-1-8",
    "item_no_gap": "GD-2-6",
    "no_process": "GD-2-5",
    "wrong_size": "GD-1-10",
    "wrong_pages": "GD-1-10",
    "missing_attachment": "GD-2-7",
    "wrong_extension": "GD-1-10",
    "corrupt_content": "GD-3-2",
    "doc_format": "GD-3-3",
    "encrypted_zip": "GD-3-8",
    "eicar": "GD-4-2",
    "missing_file": "GD-1-11",
    "extra_file": "GD-1-11",
    "wrong_count": "GD-2-1",
    "wrong_bytes": "GD-2-2",
    "no_register": "GD-2-1",
    "bad_sm3": "GD-1-1",
    "bad_sha256": "GD-1-1",
    "tampered_file": "GD-1-1",
    "wrong_oxum": "GD-2-2",
    "unlisted_file": "GD-1-11",
    "missing_payload": "GD-2-7",
    "bad_tagmanifest": "GD-1-1",
    "missing_data": "GD-2-7",
    "no_create_time": "GD-2-10",
    "truncated": "GD-3-1",
    "bad_signature": "GD-1-1",
    "bad_base64": "GD-3-1",
}

_METADATA = {
    "missing_required",
    "long_title",
    "bad_date",
    "bad_retention",
    "implausible_date",
    "future_date",
    "control_char",
    "bad_archival_code",
    "duplicate_archival_code",
    "item_no_gap",
    "no_process",
    "wrong_pages",
}
_CONTENT = {
    "missing_attachment",
    "wrong_extension",
    "corrupt_content",
    "doc_format",
    "encrypted_zip",
    "eicar",
}
_PACKAGE = {
    "missing_file",
    "extra_file",
    "wrong_count",
    "wrong_bytes",
    "no_register",
    "bad_sm3",
    "bad_sha256",
    "tampered_file",
    "wrong_size",
}
_BAG = {"wrong_oxum", "unlisted_file", "missing_payload", "bad_tagmanifest"}
_EEP = {"missing_data", "no_create_time", "truncated", "bad_signature", "bad_base64", "wrong_size"}

UNIT = "某市人民政府办公室"


@dataclass
class Item:
    """One 件 to put into a package: metadata (Lantai element keys), files, process steps."""

    key: str  # 电子文件号
    values: dict[str, Any]
    files: list[tuple[str, bytes]]  # (file name, bytes), 正文 first
    process: list[ProcessStep] = field(default_factory=list)
    declared_sizes: dict[str, str] = field(default_factory=dict)  # file name → 计算机文件大小

    @property
    def file_names(self) -> list[str]:
        return [n for n, _ in self.files]


def sample_items(
    n: int = 3,
    *,
    year: int = 2011,
    fonds: str = "Z109",
    org: str = "BGS",
    attachments: bool = True,
    pages: int = 2,
) -> list[Item]:
    """``n`` well-formed 文书 件 (category WS, retention Y) with OFD content and process steps.

    档号 follow the shipped WS rule: ``Z109-WS·2011-Y-BGS-0001`` …; 件号 1…n.
    """
    items = []
    for i in range(1, n + 1):
        title = f"关于{year}年第{i}季度工作安排的通知"
        files = [(f"{year}-{i:04d}-正文.ofd", minimal_ofd(title, pages=pages))]
        if attachments:
            files.append((f"{year}-{i:04d}-附件1.ofd", minimal_ofd(f"{title}（附件）", pages=1)))
        items.append(
            Item(
                key=f"{UNIT}-{year}-{i:04d}",
                values={
                    "archival_code": f"{fonds}-WS·{year}-Y-{org}-{i:04d}",
                    "title": title,
                    "responsible": UNIT,
                    "date": f"{year}03{i % 28 + 1:02d}",
                    "year": year,
                    "retention": "Y",
                    "org_code": org,
                    "doc_number": f"市府办发〔{year}〕{i}号",
                    "pages": pages,
                    "security_level": "公开",
                    "item_no": i,
                },
                files=files,
                process=[
                    ProcessStep(action="起草", time=f"{year}-03-01T09:00:00", agent="张三"),
                    ProcessStep(action="审核", time=f"{year}-03-01T15:00:00", agent="李四"),
                    ProcessStep(action="签发", time=f"{year}-03-02T10:00:00", agent="王五"),
                ],
            )
        )
    return items


# -- content --------------------------------------------------------------------------------------


def minimal_pdf(text: str = "Lantai test", *, pages: int = 1) -> bytes:
    """A small, valid PDF 1.4 (ASCII text, Helvetica) with a correct xref table."""
    objs: list[bytes] = []
    kids = " ".join(f"{3 + 2 * p} 0 R" for p in range(pages))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font_no = 3 + 2 * pages
    safe = "".join(c if 32 <= ord(c) < 127 and c not in "()\\" else "?" for c in text)
    for p in range(pages):
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 2 * p} 0 R "
            f"/Resources << /Font << /F1 {font_no} 0 R >> >> >>".encode()
        )
        stream = f"BT /F1 18 Tf 72 770 Td ({safe} {p + 1}) Tj ET".encode()
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


_OFD_NS = "http://www.ofdspec.org/2016"


def minimal_ofd(text: str = "兰台测试", *, pages: int = 1) -> bytes:
    """A small structurally valid OFD (GB/T 33190-2016): OFD.xml, Document, PublicRes, pages."""
    doc_id = uuid.uuid5(uuid.NAMESPACE_URL, f"lantai-test:{text}:{pages}").hex
    page_refs = "".join(
        f'<ofd:Page ID="{10 + p}" BaseLoc="Pages/Page_{p}/Content.xml"/>' for p in range(pages)
    )
    members = {
        "OFD.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<ofd:OFD xmlns:ofd="{_OFD_NS}" Version="1.0" DocType="OFD"><ofd:DocBody>'
            f"<ofd:DocInfo><ofd:DocID>{doc_id}</ofd:DocID><ofd:Title>{_x(text)}</ofd:Title>"
            f"<ofd:CreationDate>2011-03-05</ofd:CreationDate></ofd:DocInfo>"
            f"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
        ),
        "Doc_0/Document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{_OFD_NS}">'
            f"<ofd:CommonData><ofd:MaxUnitID>{100 + 3 * pages}</ofd:MaxUnitID>"
            f"<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>"
            f"<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>"
            f"<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>"
        ),
        "Doc_0/PublicRes.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res xmlns:ofd="{_OFD_NS}" BaseLoc="Res">'
            f'<ofd:Fonts><ofd:Font ID="2" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>'
        ),
    }
    for p in range(pages):
        members[f"Doc_0/Pages/Page_{p}/Content.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{_OFD_NS}"><ofd:Content>'
            f'<ofd:Layer ID="{100 + 3 * p + 1}"><ofd:TextObject ID="{100 + 3 * p + 2}" '
            f'Boundary="20 20 170 10" Font="2" Size="5"><ofd:TextCode X="0" Y="5">'
            f"{_x(text)}（第{p + 1}页）</ofd:TextCode></ofd:TextObject></ofd:Layer>"
            f"</ofd:Content></ofd:Page>"
        )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in members.items():
            info = zipfile.ZipInfo(name, date_time=(2011, 3, 5, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, body.encode("utf-8"))
    return buf.getvalue()


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def eicar_bytes() -> bytes:
    """The 68-byte EICAR anti-virus test file, assembled at run time (never stored whole)."""
    parts = [
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!",
        "$H+H*",
    ]
    data = "".join(parts).encode("ascii")
    assert len(data) == 68
    return data


def _ole2_doc() -> bytes:
    """The first bytes of a legacy Word .doc (OLE2 compound file header) padded to 4 KiB."""
    header = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16) + struct.pack("<HH", 0x3E, 3)
    return header + bytes(4096 - len(header))


def _encrypted_zip() -> bytes:
    """A ZIP whose only member has the 'encrypted' flag (bit 0) set in both headers."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("secret.txt", b"0123456789abcdef")
    data = bytearray(buf.getvalue())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 6] |= 1
    data[central + 8] |= 1
    return bytes(data)


# -- defects on items -------------------------------------------------------------------------------


def _check_defects(defects: Iterable[str], allowed: set[str], builder: str) -> set[str]:
    wanted = set(defects)
    unknown = wanted - set(DEFECTS)
    if unknown:
        raise ValueError(f"unknown defects: {sorted(unknown)}")
    impossible = wanted - allowed
    if impossible:
        raise ValueError(f"{builder} cannot build defects {sorted(impossible)}")
    return wanted


def _apply_item_defects(items: Sequence[Item], defects: set[str]) -> list[Item]:
    out = [
        replace(i, values=dict(i.values), files=list(i.files), process=list(i.process))
        for i in items
    ]
    if not out:
        return out
    first = out[0]
    v = first.values
    if "missing_required" in defects:
        v.pop("responsible", None)
    if "long_title" in defects:
        v["title"] = "长" * 501
    if "bad_date" in defects:
        v["date"] = "2021-13-40"
    if "bad_retention" in defects:
        v["retention"] = "5年"
    if "implausible_date" in defects:
        v["year"] = 2020
        v["date"] = "20190101"
    if "future_date" in defects:
        v["date"] = "20990101"
    if "control_char" in defects:
        v["title"] = str(v.get("title", "")) + "\x07"
    if "bad_archival_code" in defects:
        v["archival_code"] = "Z109-WS-2011-Y-BGS-1"
    if "duplicate_archival_code" in defects and len(out) > 1:
        out[1].values["archival_code"] = v.get("archival_code")
    if "item_no_gap" in defects:
        if len(out) < 3:
            raise ValueError("item_no_gap needs at least three items")
        for item in out[2:]:
            item.values["item_no"] = int(item.values["item_no"]) + 1
            code = str(item.values.get("archival_code", ""))
            head, _, _ = code.rpartition("-")
            item.values["archival_code"] = f"{head}-{int(item.values['item_no']):04d}"
    if "no_process" in defects:
        for item in out:
            item.process = []
    if "wrong_pages" in defects:
        v["pages"] = int(v.get("pages", 1)) + 1
    name, data = first.files[0]
    if "wrong_size" in defects:
        first.declared_sizes[name] = str(len(data) + 1)
    if "wrong_extension" in defects:
        first.files[0] = (str(Path(name).with_suffix(".pdf")), data)
    if "corrupt_content" in defects:
        first.files[0] = (name, data[:40])
    if (
        defects & {"missing_attachment", "doc_format", "encrypted_zip", "eicar"}
        and len(first.files) < 2
    ):
        raise ValueError("this defect needs an item with an attachment")
    if "doc_format" in defects:
        first.files[1] = (str(Path(first.files[1][0]).with_suffix(".doc")), _ole2_doc())
    if "encrypted_zip" in defects:
        first.files[1] = (str(Path(first.files[1][0]).with_suffix(".zip")), _encrypted_zip())
    if "eicar" in defects:
        first.files[1] = (str(Path(first.files[1][0]).with_suffix(".txt")), eicar_bytes())
    return out


# -- catalogue and register files -------------------------------------------------------------------

_COLUMNS = [
    ("电子文件号", None),
    ("档号", "archival_code"),
    ("题名", "title"),
    ("责任者", "responsible"),
    ("日期", "date"),
    ("年度", "year"),
    ("保管期限", "retention"),
    ("机构或问题", "org_code"),
    ("文件编号", "doc_number"),
    ("页数", "pages"),
    ("密级", "security_level"),
    ("件号", "item_no"),
]


def _catalogue_rows(
    items: Sequence[Item], *, declared: dict[str, dict[str, str]], prefix: str = ""
) -> tuple[list[str], list[list[str]]]:
    headers = [h for h, _ in _COLUMNS] + ["文件名", "计算机文件大小", "SHA256", "SM3"]
    rows = []
    for item in items:
        row = [item.key] + [
            "" if key is None else _cell(item.values.get(key)) for _, key in _COLUMNS[1:]
        ]
        names = item.file_names
        row.append(";".join(prefix + n for n in names))
        row.append(";".join(item.declared_sizes.get(n, str(len(b))) for n, b in item.files))
        row.append(";".join(declared.get(n, {}).get("sha256", "") for n in names))
        row.append(";".join(declared.get(n, {}).get("sm3", "") for n in names))
        rows.append(row)
    return headers, rows


def _cell(v: Any) -> str:
    return "" if v is None else str(v)


def _write_table(path: Path, headers: list[str], rows: list[list[str]]) -> None:
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("目录")
        ws.append(headers)
        for r in rows:
            ws.append(r)
        wb.save(path)
    else:
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(headers)
            w.writerows(rows)


def _process_rows(items: Sequence[Item]) -> tuple[list[str], list[list[str]]]:
    headers = ["电子文件号", "业务行为", "行为时间", "机构人员名称", "行为依据", "行为描述"]
    rows = [
        [i.key, s.action, s.time, s.agent, s.basis, s.description] for i in items for s in i.process
    ]
    return headers, rows


def _register(items: Sequence[Item], defects: set[str], *, method: str) -> dict[str, Any]:
    count = len(items) + (1 if "wrong_count" in defects else 0)
    size = sum(len(b) for i in items for _, b in i.files) + (1 if "wrong_bytes" in defects else 0)
    return {
        "单位名称": UNIT,
        "移交时间": "2012-06-30",
        "门类": "文书",
        "件数": count,
        "字节数": size,
        "方式": method,
    }


def _digests(data: bytes) -> dict[str, str]:
    sm3 = new_sm3()
    sm3.update(data)
    return {"sha256": hashlib.sha256(data).hexdigest(), "sm3": sm3.hexdigest()}


def _corrupt(hexdigest: str) -> str:
    return ("0" if hexdigest[0] != "0" else "1") + hexdigest[1:]


# -- BagIt ----------------------------------------------------------------------------------------


def make_bag(
    dest: Path,
    items: Sequence[Item] | None = None,
    *,
    defects: Iterable[str] = (),
    version: Literal["0.97", "1.0"] = "1.0",
    algorithms: Sequence[str] = ("sha256", "sm3"),
    form: Literal["dir", "zip", "tar", "tar.gz"] = "dir",
    catalogue: Literal["csv", "xlsx"] | None = "csv",
    name: str = "transfer-bag",
) -> Path:
    """A BagIt bag of ``items``: payload ``data/<file>``, catalogue and process metadata in the
    tag directory ``metadata/`` (目录.csv, 过程信息.csv, 登记表.yaml), bag-info with the 登记表
    fields, manifests for ``algorithms``, a SHA-256 tag manifest.

    ``form`` "dir" returns the bag directory; "zip"/"tar"/"tar.gz" an archive holding it.
    """
    wanted = _check_defects(defects, _METADATA | _CONTENT | _PACKAGE | _BAG, "make_bag")
    items = _apply_item_defects(items if items is not None else sample_items(), wanted)
    root = dest / name if form == "dir" else dest / f".{name}.build"
    (root / "data").mkdir(parents=True)
    declared: dict[str, dict[str, str]] = {}
    payload: dict[str, bytes] = {}
    for item in items:
        for fname, data in item.files:
            payload[fname] = data
            declared[fname] = _digests(data)
    first_item = items[0] if items else None
    first_name = first_item.files[0][0] if first_item else ""
    attachment = first_item.files[1][0] if first_item and len(first_item.files) > 1 else ""
    if "bad_sm3" in wanted:
        declared[first_name]["sm3"] = _corrupt(declared[first_name]["sm3"])
    if "bad_sha256" in wanted:
        declared[first_name]["sha256"] = _corrupt(declared[first_name]["sha256"])
    if "extra_file" in wanted:
        payload["说明-未登记.txt"] = "不属于任何一件的文件".encode()
        declared["说明-未登记.txt"] = _digests(payload["说明-未登记.txt"])
    listed = dict(payload)
    if "missing_file" in wanted:
        payload.pop(first_name)
        listed.pop(first_name)
    if "missing_attachment" in wanted:
        payload.pop(attachment)
        listed.pop(attachment)
    if "unlisted_file" in wanted:
        payload["unlisted.txt"] = b"not in any manifest"
    if "missing_payload" in wanted:
        listed["ghost.txt"] = b"listed but absent"
        declared["ghost.txt"] = _digests(b"listed but absent")
        payload.pop("ghost.txt", None)
    for fname, data in payload.items():
        if "tampered_file" in wanted and fname == first_name:
            data = data + b"\n"
        (root / "data" / fname).write_bytes(data)
    for alg in algorithms:
        lines = []
        for fname, data in listed.items():
            digest = declared[fname].get(alg) or hashlib.new(alg, data).hexdigest()
            lines.append(f"{digest}  data/{_bag_escape(fname)}\n")
        (root / f"manifest-{alg}.txt").write_text("".join(lines), encoding="utf-8")
    (root / "bagit.txt").write_text(
        f"BagIt-Version: {version}\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8"
    )
    octets = sum(len(d) for d in payload.values()) + (1 if "wrong_oxum" in wanted else 0)
    reg = _register(items, wanted, method="在线")
    info = [
        f"Source-Organization: {UNIT}",
        f"Bagging-Date: {reg['移交时间']}",
        f"Payload-Oxum: {octets}.{len(payload)}",
        "External-Identifier: lantai-test-transfer",
    ]
    if "no_register" not in wanted:
        info += [f"门类: {reg['门类']}", f"件数: {reg['件数']}", f"字节数: {reg['字节数']}"]
    (root / "bag-info.txt").write_text("\n".join(info) + "\n", encoding="utf-8")
    if catalogue is not None:
        meta = root / "metadata"
        meta.mkdir()
        headers, rows = _catalogue_rows(items, declared=declared)
        _write_table(meta / f"目录.{catalogue}", headers, rows)
        if any(i.process for i in items):
            headers, rows = _process_rows(items)
            _write_table(meta / "过程信息.csv", headers, rows)
        if "no_register" not in wanted:
            (meta / "登记表.yaml").write_text(
                yaml.safe_dump(reg, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
    tags = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith(("data/", "tagmanifest-"))
    )
    lines = []
    for rel in tags:
        digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        if "bad_tagmanifest" in wanted and rel == "bag-info.txt":
            digest = _corrupt(digest)
        lines.append(f"{digest}  {rel}\n")
    (root / "tagmanifest-sha256.txt").write_text("".join(lines), encoding="utf-8")
    if form == "dir":
        return root
    return _archive(root, dest, name, form)


def _bag_escape(name: str) -> str:
    return name.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def _archive(root: Path, dest: Path, name: str, form: str) -> Path:
    files = sorted(p for p in root.rglob("*"))
    if form == "zip":
        out = dest / f"{name}.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files:
                arc = f"{name}/{p.relative_to(root).as_posix()}"
                if p.is_dir():
                    z.writestr(arc + "/", b"")
                else:
                    z.write(p, arc)
    else:
        out = dest / f"{name}.{form}"
        mode = "w:gz" if form == "tar.gz" else "w"
        with tarfile.open(out, mode, format=tarfile.PAX_FORMAT) as t:
            for p in files:
                t.add(p, f"{name}/{p.relative_to(root).as_posix()}", recursive=False)
    for p in sorted(files, reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    root.rmdir()
    return out


# -- EEP ------------------------------------------------------------------------------------------


def _eep_package(item: Item, *, fonds: str = "Z109") -> EepPackage:
    documents = [
        EepDocument(
            main=n == 0,
            title="正文" if n == 0 else f"附件{n}",
            contents=[
                EepContent(
                    name=fname,
                    source=data,
                    format=Path(fname).suffix.lstrip(".").upper(),
                    creating_app="某OA系统 3.2",
                    declared_size=item.declared_sizes.get(fname),
                )
            ],
        )
        for n, (fname, data) in enumerate(item.files)
    ]
    values = {k: v for k, v in item.values.items() if k != "archival_code"}
    if "retention" in values and values["retention"] == "Y":
        values["retention"] = "永久"
    return EepPackage(
        key=item.key,
        values=values,
        documents=documents,
        source=EepSource(unit=UNIT, archive_name="示范市档案馆", archive_code="136101"),
        creator_unit=f"{UNIT}（OA系统）",
        created=datetime(2012, 6, 30, 10, 0, 0, tzinfo=UTC),
        fonds_code=fonds,
        archival_code=str(item.values.get("archival_code") or ""),
        process=item.process,
    )


def make_eep(
    dest: Path,
    item: Item | None = None,
    *,
    defects: Iterable[str] = (),
    signer: Signer | None = None,
    revised: Item | None = None,
    name: str | None = None,
) -> Path:
    """One ``.eep`` file for ``item`` (原始型); with ``revised``, a 修改型 package whose 原封装包
    is the (signed, if ``signer``) original and whose 修订内容 describes ``revised``."""
    wanted = _check_defects(defects, _METADATA | _CONTENT | _EEP, "make_eep")
    item = _apply_item_defects([item or sample_items(1)[0]], wanted)[0]
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / (name or f"{item.key}.eep")
    pkg = _eep_package(item)
    if "missing_data" in wanted:
        doc = pkg.documents[0]
        content = replace(doc.contents[0], source=b"")
        pkg = replace(pkg, documents=[replace(doc, contents=[content]), *pkg.documents[1:]])
    if "missing_attachment" in wanted:
        pkg = replace(pkg, documents=pkg.documents[:1])
    if "bad_signature" in wanted and signer is None:
        raise ValueError("bad_signature needs a signer")
    if revised is not None:
        original = dest / f".{out.name}.original"
        write_eep(original, pkg, signer=signer)
        rev = _apply_item_defects([revised], wanted - {"no_process"})[0]
        write_revision(out, original, _eep_package(rev), signer=signer)
        original.unlink()
    else:
        write_eep(out, pkg, signer=signer)
    if wanted & {"no_create_time", "truncated", "bad_signature", "bad_base64", "no_process"}:
        _mutate_eep(out, wanted)
    return out


def _mutate_eep(path: Path, defects: set[str]) -> None:
    text = path.read_text(encoding="utf-8")
    if "no_create_time" in defects:
        start = text.index("<封装包创建时间>")
        end = text.index("</封装包创建时间>") + len("</封装包创建时间>")
        text = text[:start] + text[end:]
    if "no_process" in defects:
        start = text.index("<业务实体块>")
        end = text.index("</业务实体块>") + len("</业务实体块>")
        text = text[:start] + "<业务实体块></业务实体块>" + text[end:]
    if "bad_signature" in defects:
        text = text.replace("<题名>", "<题名>（已篡改）", 1)
    if "bad_base64" in defects:
        at = text.index("<编码数据 ")
        at = text.index(">", at) + 10
        text = text[:at] + "*" + text[at + 1 :]
    if "truncated" in defects:
        text = text[: len(text) // 2]
    path.write_text(text, encoding="utf-8")


def make_eep_set(
    dest: Path,
    items: Sequence[Item] | None = None,
    *,
    defects: Iterable[str] = (),
    signer: Signer | None = None,
    form: Literal["dir", "zip"] = "dir",
    register: bool = True,
    name: str = "eep-transfer",
) -> Path:
    """A folder (or zip) of one ``.eep`` per item plus a ``登记表.yaml``."""
    wanted = _check_defects(
        defects,
        _METADATA | _CONTENT | _EEP | {"wrong_count", "wrong_bytes", "no_register"},
        "make_eep_set",
    )
    items = _apply_item_defects(items if items is not None else sample_items(), wanted)
    root = dest / name
    root.mkdir(parents=True)
    per_item = wanted - _METADATA - {"wrong_count", "wrong_bytes", "no_register"}
    for n, item in enumerate(items):
        make_eep(root, item, defects=per_item if n == 0 else (), signer=signer)
    if register and "no_register" not in wanted:
        reg = _register(items, wanted, method="在线")
        (root / "登记表.yaml").write_text(
            yaml.safe_dump(reg, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    if form == "dir":
        return root
    return _archive(root, dest, name, "zip")


# -- offline folder + spreadsheet ----------------------------------------------------------------


def make_offline(
    dest: Path,
    items: Sequence[Item] | None = None,
    *,
    defects: Iterable[str] = (),
    catalogue: Literal["csv", "xlsx"] = "xlsx",
    register: Literal["yaml", "xlsx", "csv"] = "yaml",
    name: str = "offline-transfer",
) -> Path:
    """A folder: content files under ``文件/``, ``目录.<catalogue>`` (one row per 件, column 文件名
    lists the files, ``;``-separated, 正文 first), ``过程信息.csv`` and ``登记表.<register>``.
    With ``control_char`` the catalogue is always CSV (XLSX cannot hold control characters)."""
    wanted = _check_defects(defects, _METADATA | _CONTENT | _PACKAGE, "make_offline")
    items = _apply_item_defects(items if items is not None else sample_items(), wanted)
    if "control_char" in wanted:
        catalogue = "csv"  # XLSX cannot hold control characters at all
    root = dest / name
    (root / "文件").mkdir(parents=True)
    declared: dict[str, dict[str, str]] = {}
    for item in items:
        for fname, data in item.files:
            declared[fname] = _digests(data)
    first = items[0]
    if "bad_sm3" in wanted:
        declared[first.files[0][0]]["sm3"] = _corrupt(declared[first.files[0][0]]["sm3"])
    if "bad_sha256" in wanted:
        declared[first.files[0][0]]["sha256"] = _corrupt(declared[first.files[0][0]]["sha256"])
    for item in items:
        for n, (fname, data) in enumerate(item.files):
            if item is first and n == 0 and "missing_file" in wanted:
                continue
            if item is first and n == 1 and "missing_attachment" in wanted:
                continue
            if item is first and n == 0 and "tampered_file" in wanted:
                data = data + b"\n"
            (root / "文件" / fname).write_bytes(data)
    if "extra_file" in wanted:
        (root / "文件" / "说明-未登记.txt").write_text("不属于任何一件的文件", encoding="utf-8")
    headers, rows = _catalogue_rows(items, declared=declared, prefix="文件/")
    _write_table(root / f"目录.{catalogue}", headers, rows)
    if any(i.process for i in items):
        headers, rows = _process_rows(items)
        _write_table(root / "过程信息.csv", headers, rows)
    if "no_register" not in wanted:
        reg = _register(items, wanted, method="离线（光盘）")
        if register == "yaml":
            (root / "登记表.yaml").write_text(
                yaml.safe_dump(reg, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
        else:
            _write_table(root / f"登记表.{register}", list(reg), [[_cell(v) for v in reg.values()]])
    return root
