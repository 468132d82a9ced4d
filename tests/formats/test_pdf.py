"""PDF: opens, pages, encryption, text, PDF/A claim and pikepdf.pdfa verdicts.

The veraPDF corpus sample names the expected veraPDF result in each file name (``-pass-`` /
``-fail-``). pikepdf's validator checks level b only and approves only what it recognises, so
its verdicts differ from veraPDF's on several files; the table records what Lantai reports and
why it differs, so that a change in behaviour is noticed.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest
from pikepdf import pdfa
from reportlab.pdfgen import canvas

from lantai.formats.pdf import inspect_pdf

# corpus file → (claim, Lantai verdict). Differences from veraPDF (the file name):
#  * 1a/2a/2u "-fail-" files break an A/U-level rule that a b-level validator cannot see → passed
#  * "-pass-" files with extension schemas or /Thumb, or Type 1 fonts pikepdf cannot parse →
#    failed / not_checked (pikepdf's allow-list): these go to 人工复核, never to 通过 silently
#  * PDF/A-4 cannot be validated here → unsupported; one -4 file has no pdfaid:conformance at all
VERDICTS: dict[str, tuple[str | None, str]] = {
    "PDF_A-1a/veraPDF test suite 6-3-8-t01-fail-b.pdf": ("1A", "not_checked"),
    "PDF_A-1a/veraPDF test suite 6-3-8-t01-pass-d.pdf": ("1A", "not_checked"),
    "PDF_A-1a/veraPDF test suite 6-8-3-3-t01-fail-a.pdf": ("1A", "passed"),
    "PDF_A-1a/veraPDF test suite 6-8-3-4-t01-pass-a.pdf": ("1A", "passed"),
    "PDF_A-1b/veraPDF test suite 6-2-3-3-t01-fail-c.pdf": ("1B", "failed"),
    "PDF_A-1b/veraPDF test suite 6-7-2-t13-pass-g.pdf": ("1B", "failed"),
    "PDF_A-1b/veraPDF test suite 6-7-2-t15-fail-n.pdf": ("1B", "failed"),
    "PDF_A-1b/veraPDF test suite 6-7-2-t15-pass-b.pdf": ("1B", "failed"),
    "PDF_A-2a/veraPDF test suite 6-6-4-t01-fail-a.pdf": ("2", "failed"),
    "PDF_A-2a/veraPDF test suite 6-7-2-2-t01-fail-c.pdf": ("2A", "passed"),
    "PDF_A-2a/veraPDF test suite 6-7-3-4-t01-pass-a.pdf": ("2A", "passed"),
    "PDF_A-2b/veraPDF test suite 6-6-2-3-1-t01-fail-p.pdf": ("2B", "failed"),
    "PDF_A-2b/veraPDF test suite 6-6-2-3-1-t02-pass-c.pdf": ("2B", "failed"),
    "PDF_A-2b/veraPDF test suite 6-6-2-3-1-t14-pass-q.pdf": ("2B", "failed"),
    "PDF_A-2b/veraPDF test suite 6-6-2-3-1-t17-fail-o.pdf": ("2B", "failed"),
    "PDF_A-2u/veraPDF test suite 6-2-11-7-2-t01-fail-f.pdf": ("2U", "failed"),
    "PDF_A-2u/veraPDF test suite 6-2-11-7-2-t01-pass-c.pdf": ("2U", "not_checked"),
    "PDF_A-2u/veraPDF test suite 6-2-11-7-2-t01-pass-k.pdf": ("2U", "passed"),
    "PDF_A-2u/veraPDF test suite 6-6-4-t01-fail-a.pdf": ("2u", "failed"),
    "PDF_A-3b/veraPDF test suite 6-8-t01-fail-a.pdf": ("3B", "failed"),
    "PDF_A-3b/veraPDF test suite 6-8-t02-fail-a.pdf": ("3B", "failed"),
    "PDF_A-3b/veraPDF test suite 6-8-t02-pass-a.pdf": ("3B", "not_checked"),
    "PDF_A-3b/veraPDF test suite 6-8-t02-pass-g.pdf": ("3B", "not_checked"),
    "PDF_A-4/veraPDF test suite 6-2-2-t02-pass-d.pdf": ("4", "unsupported"),
    "PDF_A-4/veraPDF test suite 6-2-3-t02-pass-a.pdf": ("4", "unsupported"),
    "PDF_A-4/veraPDF test suite 6-2-7-1-t02-fail-a.pdf": ("4", "unsupported"),
    "PDF_A-4/veraPDF test suite 6-7-3-t01-fail-c.pdf": (None, "no_claim"),
    "PDF_UA-1/7.2-t17-pass-c.pdf": (None, "no_claim"),
    "PDF_UA-1/7.2-t17-pass-d.pdf": (None, "no_claim"),
    "PDF_UA-1/7.21.4.2-t01-fail-a.pdf": (None, "no_claim"),
    "PDF_UA-1/7.21.4.2-t01-fail-b.pdf": (None, "no_claim"),
}


@pytest.fixture(scope="module")
def corpus(fixtures_dir: Path) -> Path:
    return fixtures_dir / "pdfa" / "verapdf-corpus-sample"


def _key(corpus: Path, path: Path) -> str:
    return f"{path.relative_to(corpus).parts[0]}/{path.name}"


def test_table_covers_the_corpus(corpus: Path) -> None:
    assert {_key(corpus, p) for p in corpus.rglob("*.pdf")} == set(VERDICTS)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_corpus_verdicts(corpus: Path, name: str) -> None:
    folder, file = name.split("/", 1)
    [path] = [p for p in (corpus / folder).rglob(file)]
    info = inspect_pdf(path)
    assert info.opens and info.pages == 1 and not info.encrypted
    assert (info.pdfa.claim, info.pdfa.verdict) == VERDICTS[name]
    if info.pdfa.verdict == "failed":
        assert any(f.kind == "violation" and f.rule for f in info.pdfa.findings)
        assert any("人工复核" in n for n in info.pdfa.notes)
    if info.pdfa.verdict == "passed":
        assert info.pdfa.findings == ()
    if info.pdfa.conformance in ("A", "U") and info.pdfa.verdict != "unsupported":
        assert info.pdfa.flavour == f"{info.pdfa.part}b"
        assert any("附加要求" in n for n in info.pdfa.notes)


def test_pdfa_written_by_pikepdf_passes(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdfa.prepare(pdf, "2b")
    pdfa.save(pdf, tmp_path / "a.pdf", "2b")
    info = inspect_pdf(tmp_path / "a.pdf")
    assert (info.pdfa.claim, info.pdfa.flavour, info.pdfa.verdict) == ("2B", "2b", "passed")
    assert info.pdfa.passed and info.pdfa.claimed


def _text_pdf(path: Path, pages: int, text: str | None) -> Path:
    c = canvas.Canvas(str(path))
    for i in range(pages):
        if text:
            c.drawString(72, 720, f"{text} {i + 1}")
        else:
            c.rect(72, 600, 200, 100, fill=1)
        c.showPage()
    c.save()
    return path


def test_pages_and_text(tmp_path: Path) -> None:
    with_text = inspect_pdf(_text_pdf(tmp_path / "t.pdf", 3, "Lantai archive"))
    assert (with_text.opens, with_text.pages, with_text.has_text) == (True, 3, True)
    assert with_text.pdfa.verdict == "no_claim" and not with_text.pdfa.claimed
    scanned = inspect_pdf(_text_pdf(tmp_path / "s.pdf", 2, None))
    assert (scanned.pages, scanned.has_text) == (2, False)


def test_text_inside_a_form_xobject_counts(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    form = pikepdf.Stream(pdf, b"BT /F1 12 Tf 10 10 Td (inside) Tj ET")
    form.Type = pikepdf.Name.XObject
    form.Subtype = pikepdf.Name.Form
    form.BBox = [0, 0, 100, 100]
    page = pdf.pages[0]
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm0=form))
    page.Contents = pikepdf.Stream(pdf, b"q /Fm0 Do Q")
    pdf.save(tmp_path / "f.pdf")
    assert inspect_pdf(tmp_path / "f.pdf").has_text is True


def test_encryption(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(tmp_path / "user.pdf", encryption=pikepdf.Encryption(user="u", owner="o"))
    pdf.save(
        tmp_path / "owner.pdf",
        encryption=pikepdf.Encryption(user="", owner="o", allow=pikepdf.Permissions(extract=False)),
    )
    locked = inspect_pdf(tmp_path / "user.pdf")
    assert (locked.opens, locked.encrypted, locked.password_required) == (False, True, True)
    assert locked.error == "需要口令才能打开"
    restricted = inspect_pdf(tmp_path / "owner.pdf")
    assert (restricted.opens, restricted.encrypted, restricted.password_required) == (
        True,
        True,
        False,
    )
    assert restricted.encryption == "AES-256，256 位，禁止复制"
    pdf.save(tmp_path / "plain.pdf")
    assert inspect_pdf(tmp_path / "plain.pdf").encrypted is False


def test_broken_files_do_not_raise(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\nnot really a pdf")
    info = inspect_pdf(bad)
    assert not info.opens and info.error is not None
    assert info.error.startswith("无法作为 PDF 打开：") and str(tmp_path) not in info.error
    truncated = tmp_path / "trunc.pdf"
    _text_pdf(tmp_path / "full.pdf", 2, "x")
    truncated.write_bytes((tmp_path / "full.pdf").read_bytes()[:200])
    assert inspect_pdf(truncated).opens is False
