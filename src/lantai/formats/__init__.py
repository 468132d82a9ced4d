"""File formats: safe XML parsing and XML Schema validation (identification and validation of
PDF/A, OFD and images live here too as they arrive).

Other capabilities import from here: ``parse_file``/``parse_bytes`` for any XML from outside
(never a bare ``lxml.etree.parse``), and ``validate`` for the shipped XSDs.
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
