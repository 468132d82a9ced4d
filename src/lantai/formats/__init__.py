"""File formats: pure functions over files, no knowledge of transfers or the catalogue.

- ``xmlsafe`` / ``xsd``: the one way to parse outside XML (``parse_file``/``parse_bytes``, never a
  bare ``lxml.etree.parse``) and to validate against the shipped XSDs (``validate``);
- ``identify``: PRONOM PUIDs (siegfried via pygfried), our own OFD identification, MIME types;
- ``ofd``: GB/T 33190 validation (strict and tolerant), pages, text, signature references,
  e-invoices; ``pdf``: opening, encryption, PDF/A; ``media``: images, audio and video probes;
- ``encryption``: encrypted or non-public compression in files; ``clamav``: the clamd client;
- ``policy``: long-term format policy (``data/long_term_formats.yaml``).
"""

from lantai.formats.xmlsafe import (
    DEFAULT_MAX_BYTES,
    XmlMalformed,
    XmlRefused,
    XmlTooLarge,
    XmlUnsafe,
    parse_bytes,
    parse_file,
    read_bounded,
)
from lantai.formats.xsd import SCHEMAS, compiled_schema, validate

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SCHEMAS",
    "XmlMalformed",
    "XmlRefused",
    "XmlTooLarge",
    "XmlUnsafe",
    "compiled_schema",
    "parse_bytes",
    "parse_file",
    "read_bounded",
    "validate",
]
