"""The certificate PDF: its contents, the QR code (decoded), and certified copies with pages."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from certificates.conftest import issue
from digitisation_support import make_items, render_page, save
from lantai.certificates import Verdict, verify_file
from lantai.certificates.qr import QrFlowable, qr_matrix
from lantai.digitisation.batch import import_batch
from lantai.digitisation.linking import link_batch
from lantai.instance import Instance
from lantai.security import Actor


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _page_png(pdf: bytes, tmp_path: Path, page: int = 1, dpi: int = 150) -> Path:
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-f",
            str(page),
            "-l",
            str(page),
            "-r",
            str(dpi),
            "-png",
            str(path),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    return next(tmp_path.glob("p-*.png"))


def test_the_certificate_states_what_standards_9_asks(
    instance: Instance, items: list, tmp_path: Path
) -> None:
    (rid, code), (rid2, code2) = items
    c = issue(instance, [rid, rid2], pages={rid: "1-2"})
    text = _pdftotext(c.pdf, tmp_path)
    flat = "".join(text.split())
    for expected in (
        "档案证明",
        "示范市档案馆",
        "136101",
        code.replace(" ", ""),
        code2.replace(" ", ""),
        "关于档案工作的通知1",
        "1-2",
        "全部",
        "张建国",
        "110***********1234",
        "权益维护",
        "SQ-2026-0001",
        "-".join(c.code[i : i + 4] for i in range(0, 16, 4)),
        "http://127.0.0.1:8000/verify",
        "SM2-with-SM3",
    ):
        assert expected in flat, expected
    assert "110101" not in flat


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg (Debian zbar-tools) missing")
def test_the_qr_code_decodes_to_the_verification_url(
    instance: Instance, items: list, tmp_path: Path
) -> None:
    c = issue(instance, [items[0][0]])
    png = _page_png(c.pdf, tmp_path)
    done = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == c.verify_url == f"http://127.0.0.1:8000/verify/{c.code}"


def test_the_drawn_qr_matrix_is_the_encoders_matrix_of_the_url() -> None:
    url = "https://dangan.example.cn/verify/ABCDEFGHJKMNPQR0"
    flow = QrFlowable(url, 100.0)
    matrix = qr_matrix(url)
    assert flow.matrix == matrix and len(matrix) in range(21, 60, 4)
    # the three finder patterns of a QR symbol are where they must be
    n = len(matrix)
    for r0, c0 in ((0, 0), (0, n - 7), (n - 7, 0)):
        assert all(matrix[r0][c0 + i] and matrix[r0 + 6][c0 + i] for i in range(7))
        assert all(matrix[r0 + 2 + i][c0 + 2 + j] for i in range(3) for j in range(3))


def test_a_certified_copy_includes_the_digitised_pages(
    instance: Instance, operator: Actor, tmp_path: Path
) -> None:
    (rid, code), (bare, _) = make_items(instance, operator, [3, 1])
    root = tmp_path / "batch"
    for n in (1, 2, 3):
        save(render_page(n, dpi=150), root / code / f"{n:04d}.png")
    batch = import_batch(instance, operator, root, fonds_code="Z109", category="WS")
    link_batch(instance, operator, batch.id)
    c = issue(instance, [rid, bare], kind="certified_copy", pages={rid: "2-3"})
    assert c.page_images == 2
    (tmp_path / "copy.pdf").write_bytes(c.pdf)
    info = subprocess.run(
        ["pdfinfo", str(tmp_path / "copy.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"^Pages:\s+3$", info, re.M)  # the certificate page and two page images
    text = "".join(_pdftotext(c.pdf, tmp_path).split())
    assert "档案复制件证明" in text and "所附2页复制件" in text
    assert f"档号{code}第2页" in text and f"档号{code}第3页" in text and "第1页" in text
    page3 = Image.open(_page_png(c.pdf, tmp_path, page=3, dpi=40)).convert("L")
    assert page3.getextrema()[0] < 100  # the scanned text is on the page
    with instance.db.read() as s:
        assert verify_file(instance, s, c.pdf).verdict is Verdict.VALID
    # a record without digitised pages: cited only
    only = issue(instance, [bare], kind="certified_copy")
    assert only.page_images == 0
    assert "仅引用档号与页码" in "".join(_pdftotext(only.pdf, tmp_path).split())
