"""PDF: does it open, how many pages, is it encrypted or password-protected, is there text, and
does its PDF/A claim hold (pikepdf, with ``pikepdf.pdfa``'s veraPDF-derived rules).

Public API::

    inspect_pdf(path, *, validate_pdfa=True) -> PdfInfo
    PdfInfo.pdfa -> PdfaConformance   (claim from XMP pdfaid:part/conformance + validation verdict)

PDF/A validation: ``pikepdf.pdfa.validate_written`` checks the *b* level of PDF/A-1, -2 and -3
against an allow-list built from the veraPDF rules. It approves only what it recognises, so a
"failed" verdict may be a false alarm (the veraPDF corpus has several passing files it rejects):
treat it as 人工复核, not as proof. A/U claims are validated at level b (their extra
requirements — tagging, Unicode maps — are not checked, and pikepdf's "conformance is 'A',
expected 'B'" finding is dropped). PDF/A-4 claims cannot be validated here (verdict
``unsupported``). A file that claims nothing has verdict ``no_claim``.

Nothing here raises for a bad file; ``opens`` is False with ``error`` saying why. The file is
opened read-only and never written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pikepdf
from pikepdf import pdfa

__all__ = ["PdfInfo", "PdfaConformance", "PdfaFinding", "encryption_method", "inspect_pdf"]

TEXT_OPERATORS: Final = "Tj TJ ' \""
MAX_TEXT_PAGES: Final = 50  # pages looked at for "is there any text" before giving up
_METHODS: Final = {"aesv3": "AES-256", "aesv2": "AES-128", "rc4": "RC4", "none": "", "unknown": ""}
_LEVEL_FINDING: Final = re.compile(r"pdfaid:conformance is '([AU])', expected 'B'")


@dataclass(frozen=True, kw_only=True)
class PdfaFinding:
    rule: str  # veraPDF rule id (ISO_19005_2:6.2.8-3) or pikepdf:<name>
    where: str
    message: str
    kind: str  # violation | unsupported


@dataclass(frozen=True, kw_only=True)
class PdfaConformance:
    claim: str | None  # "2B", "1A" … as the XMP says; None when there is no claim
    part: str | None
    conformance: str | None
    flavour: str | None  # what was validated: "1b" / "2b" / "3b"
    verdict: str  # passed | failed | not_checked | unsupported | no_claim
    findings: tuple[PdfaFinding, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def claimed(self) -> bool:
        return self.claim is not None

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


@dataclass(frozen=True, kw_only=True)
class PdfInfo:
    opens: bool
    error: str | None = None
    version: str | None = None  # header version, e.g. "1.7"
    pages: int | None = None
    encrypted: bool = False  # any encryption (also owner-password-only restrictions)
    password_required: bool = False  # a user password is needed to open it
    encryption: str | None = None  # method and key length, when encrypted
    has_text: bool | None = None  # a text-showing operator on some page (None: not opened)
    pdfa: PdfaConformance = field(
        default_factory=lambda: PdfaConformance(
            claim=None, part=None, conformance=None, flavour=None, verdict="no_claim"
        )
    )


def inspect_pdf(path: Path, *, validate_pdfa: bool = True) -> PdfInfo:
    """What Lantai needs to know about one PDF (see the module docstring)."""
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        return PdfInfo(
            opens=False,
            error="需要口令才能打开",
            encrypted=True,
            password_required=True,
            encryption="需要用户口令",
        )
    except (pikepdf.PdfError, OSError, ValueError) as exc:
        return PdfInfo(opens=False, error=f"无法作为 PDF 打开：{_message(exc, path)}")
    with pdf:
        version = pdf.pdf_version
        try:
            pages = len(pdf.pages)
            has_text = _has_text(pdf)
        except (pikepdf.PdfError, ValueError, RuntimeError) as exc:
            return PdfInfo(
                opens=False, error=f"PDF 结构损坏：{_message(exc, path)}", version=version
            )
        encrypted = bool(pdf.is_encrypted)
        encryption = _describe_encryption(pdf) if encrypted else None
        claim = _claim(pdf)
    conformance = _conformance(path, *claim, validate=validate_pdfa)
    return PdfInfo(
        opens=True,
        version=version,
        pages=pages,
        encrypted=encrypted,
        encryption=encryption,
        has_text=has_text,
        pdfa=conformance,
    )


def _message(exc: Exception, path: Path) -> str:
    return str(exc).replace(str(path), path.name)


def _has_text(pdf: pikepdf.Pdf) -> bool:
    for i, page in enumerate(pdf.pages):
        if i >= MAX_TEXT_PAGES:
            break
        if pikepdf.parse_content_stream(page, TEXT_OPERATORS):
            return True
        resources = page.obj.get("/Resources")
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if isinstance(xobjects, pikepdf.Dictionary):
            for _, xobj in xobjects.items():
                if (
                    isinstance(xobj, pikepdf.Stream)
                    and xobj.get("/Subtype") == pikepdf.Name.Form
                    and pikepdf.parse_content_stream(xobj, TEXT_OPERATORS)
                ):
                    return True
    return False


def _claim(pdf: pikepdf.Pdf) -> tuple[str | None, str | None]:
    try:
        meta = pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False)
        part = meta.get("pdfaid:part")
        conformance = meta.get("pdfaid:conformance")
    except (pikepdf.PdfError, ValueError, KeyError, AttributeError, RuntimeError):
        return None, None
    part = str(part).strip() if part else None
    conformance = str(conformance).strip() if conformance else None
    return part, conformance


def _conformance(
    path: Path, part: str | None, conformance: str | None, *, validate: bool
) -> PdfaConformance:
    if not part:
        return PdfaConformance(
            claim=None, part=None, conformance=None, flavour=None, verdict="no_claim"
        )
    claim = f"{part}{conformance or ''}"
    if part not in ("1", "2", "3"):
        return PdfaConformance(
            claim=claim,
            part=part,
            conformance=conformance,
            flavour=None,
            verdict="unsupported",
            notes=(f"PDF/A-{part} 无法在本机验证（pikepdf 只验证 PDF/A-1b、2b、3b），须人工复核",),
        )
    flavour = f"{part}b"
    if not validate:
        return PdfaConformance(
            claim=claim, part=part, conformance=conformance, flavour=None, verdict="not_checked"
        )
    report = pdfa.validate_written(path, flavour)
    notes: list[str] = []
    findings: list[PdfaFinding] = []
    for f in report.findings:
        level = _LEVEL_FINDING.search(f.message)
        if level and conformance == level.group(1):
            notes.append(
                f"按 b 级验证 PDF/A-{part}{conformance}；{conformance} 级的附加要求（结构标记、"
                "Unicode 映射）未检查"
            )
            continue
        findings.append(
            PdfaFinding(rule=f.rule, where=f.where, message=f.message, kind=str(f.kind))
        )
    if any(f.kind == "violation" for f in findings):
        verdict = "failed"
        notes.append("pikepdf 只认可已知的构造，不通过也可能是误报：须人工复核")
    elif findings:
        verdict = "not_checked"
        notes.append("含验证器不支持检查的构造，未能判定")
    else:
        verdict = "passed"
    return PdfaConformance(
        claim=claim,
        part=part,
        conformance=conformance,
        flavour=flavour,
        verdict=verdict,
        findings=tuple(findings),
        notes=tuple(notes),
    )


def encryption_method(pdf: pikepdf.Pdf) -> str:
    """ "AES-256", "AES-128" or "RC4" for an encrypted PDF ("" when unknown)."""
    enc = pdf.encryption
    raw = str(getattr(enc, "stream_method", "")).rsplit(".", 1)[-1]
    method = _METHODS.get(raw, raw)
    if not method and 0 < int(getattr(enc, "V", 0) or 0) < 4:
        method = "RC4"  # V1/V2 security handlers have no crypt filters: always RC4
    return method


def _describe_encryption(pdf: pikepdf.Pdf) -> str:
    enc = pdf.encryption
    method = encryption_method(pdf)
    bits = getattr(enc, "bits", None)
    parts = [p for p in (method, f"{bits} 位" if bits else "") if p]
    allow = pdf.allow
    denied = [
        name
        for name, attr in (("打印", "print_highres"), ("复制", "extract"), ("修改", "modify_other"))
        if not getattr(allow, attr, True)
    ]
    if denied:
        parts.append(f"禁止{'、'.join(denied)}")
    return "，".join(parts) or "已加密"
