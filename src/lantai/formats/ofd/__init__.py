"""OFD (GB/T 33190-2016 版式文档): validation, pages, text, signature references, e-invoices.

Public API (every function opens the file itself, reads it without changing it, and never raises
for a bad OFD — problems are returned)::

    validate(path, *, strict=False) -> list[Problem]     # [] when valid in that mode
    page_count(path) -> int
    page_texts(path) -> list[str]                        # one string per page, TextCode order
    verify_signatures(path) -> list[OfdSignature]        # Reference digests recomputed
    read_invoice(path) -> Invoice | None                 # original_invoice.xml / CustomData
    read_invoice_xml(path) -> Invoice | None             # a stand-alone invoice XML (数电票)
    inspect(path, *, text=False) -> OfdInspection        # all of the above in one opening
    duplicate_invoices([(holder, Invoice), ...]) -> [(first, duplicate, Invoice), ...]
    sniff_ofd(path) -> OfdSniff | None                   # cheap: is this an OFD? (identification)

Modes: **strict** is GB/T 33190-2016 as published (namespace, ``Version="1.0"``, ``DocType="OFD"``,
element order, required elements, ``CheckMethod`` MD5/SHA1); **tolerant** accepts what real files
do (Version 1.1/1.2, OFD-A, the pre-standard namespace, the SM3 OID, bookkeeping elements missing
or out of order, path spelling) but still fails broken references, missing pages, unreadable
parts, unsafe paths and duplicate entries. See ``_structure`` for the rule list.

Safety: members are looked up in a table that excludes absolute, ``..`` and NUL names; XML parts
are size-capped and parsed by :mod:`lantai.formats.xmlsafe`; large members are only streamed; no
path resolved from the document can leave the package. Problems name the OFD file (``file``),
the package member (``field``) and the line (``row``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lantai.errors import Problem
from lantai.formats.ofd._invoice import (
    Invoice,
    duplicate_invoices,
    invoice_from_xml,
    invoice_of,
)
from lantai.formats.ofd._package import (
    LEGACY_NAMESPACE,
    MAX_XML_BYTES,
    OFD_NAMESPACE,
    OfdPackage,
    OfdSniff,
    sniff_ofd,
)
from lantai.formats.ofd._signatures import SM3_OID, OfdSignature, ReferenceCheck, read_signatures
from lantai.formats.ofd._structure import Structure, check_all, walk
from lantai.formats.ofd._text import page_text
from lantai.formats.xmlsafe import parse_file

__all__ = [
    "LEGACY_NAMESPACE",
    "OFD_NAMESPACE",
    "SM3_OID",
    "Invoice",
    "OfdInspection",
    "OfdSignature",
    "OfdSniff",
    "ReferenceCheck",
    "duplicate_invoices",
    "inspect",
    "page_count",
    "page_texts",
    "read_invoice",
    "read_invoice_xml",
    "sniff_ofd",
    "validate",
    "verify_signatures",
]


@dataclass(frozen=True, kw_only=True)
class OfdInspection:
    """Everything Lantai reads from one OFD."""

    file: str
    namespace: str
    version: str
    doc_type: str  # OFD or OFD-A
    strict_problems: tuple[Problem, ...]
    tolerant_problems: tuple[Problem, ...]
    page_count: int
    signatures: tuple[OfdSignature, ...]
    invoice: Invoice | None
    texts: tuple[str, ...] | None = None  # per page, when asked for
    custom_data: dict[str, str] = field(default_factory=dict)

    @property
    def valid_strict(self) -> bool:
        return not self.strict_problems

    @property
    def valid_tolerant(self) -> bool:
        return not self.tolerant_problems

    @property
    def archival(self) -> bool:
        """DocType OFD-A (the archival subset)."""
        return self.doc_type == "OFD-A"


def validate(path: Path, *, strict: bool = False) -> list[Problem]:
    """The problems of ``path`` as an OFD in strict (GB/T 33190-2016) or tolerant mode."""
    with OfdPackage(path) as pkg:
        check_all(pkg, walk(pkg))
        return pkg.problems(strict=strict)


def page_count(path: Path) -> int:
    """Pages declared by the documents of ``path`` (0 when it cannot be read)."""
    with OfdPackage(path) as pkg:
        return len(walk(pkg).pages)


def page_texts(path: Path) -> list[str]:
    """The text of each page, in page order ("" for a page without text or unreadable)."""
    with OfdPackage(path) as pkg:
        return _texts(pkg, walk(pkg))


def verify_signatures(path: Path) -> list[OfdSignature]:
    """Every signature with each Reference digest recomputed (see ``OfdSignature.references_ok``)."""
    with OfdPackage(path) as pkg:
        return read_signatures(pkg, walk(pkg))


def read_invoice(path: Path) -> Invoice | None:
    """The e-invoice data the OFD carries, or None."""
    with OfdPackage(path) as pkg:
        return invoice_of(pkg, walk(pkg))


def read_invoice_xml(path: Path) -> Invoice | None:
    """The invoice in a stand-alone XML file (the 数电票 original or an extracted
    ``original_invoice.xml``); None when it holds no invoice number. Unsafe or malformed XML
    raises :class:`~lantai.formats.xmlsafe.XmlRefused`."""
    root = parse_file(path, max_bytes=MAX_XML_BYTES).getroot()
    return invoice_from_xml(root, path.name)


def inspect(path: Path, *, text: bool = False) -> OfdInspection:
    """Validation in both modes, pages, signatures, invoice (and text) from one opening."""
    with OfdPackage(path) as pkg:
        st = walk(pkg)
        check_all(pkg, st)
        strict = tuple(pkg.problems(strict=True))
        tolerant = tuple(pkg.problems(strict=False))
        signatures = tuple(read_signatures(pkg, st))
        invoice = invoice_of(pkg, st)
        texts = tuple(_texts(pkg, st)) if text else None
        custom: dict[str, str] = {}
        for doc in st.docs:
            for k, v in doc.custom_data.items():
                custom.setdefault(k, v)
        return OfdInspection(
            file=path.name,
            namespace=st.namespace,
            version=st.version,
            doc_type=st.doc_type,
            strict_problems=strict,
            tolerant_problems=tolerant,
            page_count=len(st.pages),
            signatures=signatures,
            invoice=invoice,
            texts=texts,
            custom_data=custom,
        )


def _texts(pkg: OfdPackage, st: Structure) -> list[str]:
    out = []
    for page in st.pages:
        root = pkg.xml(page.member) if page.member else None
        out.append(page_text(root) if root is not None else "")
    return out
