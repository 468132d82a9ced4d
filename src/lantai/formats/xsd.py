"""XML Schema validation against the XSDs shipped in ``lantai/formats/schemas``.

Schemas are compiled offline on first use and cached for the life of the process
(:func:`compiled_schema` is an ``lru_cache``d function; there is no module-level registry). Their
``xs:import`` locations are mapped to the local copies by a resolver that refuses everything else,
so compiling never touches the network or any file outside the package.

>>> validate(tree, "ead3")   # [] when valid
[Problem(message="…", rule="EAD3 XML Schema", file="x.xml", row=12)]
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from lxml import etree

from lantai.errors import ConfigError, NotFound, Problem
from lantai.formats.xmlsafe import safe_parser

if TYPE_CHECKING:
    from lxml.etree._docloader import _InputDocument

__all__ = ["SCHEMAS", "SCHEMA_DIR", "CompiledSchema", "SchemaInfo", "compiled_schema", "validate"]

SCHEMA_DIR: Final = Path(__file__).resolve().parent / "schemas"
MAX_PROBLEMS: Final = 1000
# libxml2 quotes whole enumerations and patterns in its messages; long ones are elided.
_LONG_SET: Final = re.compile(r"\{[^{}]{80,}\}")
_LONG_QUOTE: Final = re.compile(r"'([^']{80,})'")


@dataclass(frozen=True)
class SchemaInfo:
    """One shipped schema: its main file (relative to SCHEMA_DIR), title and namespace."""

    path: str
    title: str
    namespace: str


SCHEMAS: Final = MappingProxyType(
    {
        "ead3": SchemaInfo("ead3/ead3.xsd", "EAD3", "http://ead3.archivists.org/schema/"),
        "ead2002": SchemaInfo("ead2002/ead.xsd", "EAD 2002", "urn:isbn:1-931666-22-9"),
        "eep": SchemaInfo(
            "eep/eep.xsd", "DA/T 48-2009 EEP", "http://www.saac.gov.cn/standards/ERM/encapsulation"
        ),
        "mets": SchemaInfo(
            "mets/mets-premis.xsd", "METS 1.12.1 + PREMIS 3.0", "http://www.loc.gov/METS/"
        ),
        "premis": SchemaInfo("premis/premis.xsd", "PREMIS 3.0", "http://www.loc.gov/premis/v3"),
    }
)

# Remote schemaLocations used by the shipped schemas' imports → local copies.
_IMPORTS: Final = MappingProxyType(
    {
        "http://www.loc.gov/standards/xlink/xlink.xsd": "xlink/xlink.xsd",
        "https://www.loc.gov/standards/xlink/xlink.xsd": "xlink/xlink.xsd",
    }
)


class _LocalSchemas(etree.Resolver):
    """Resolves the shipped schemas and their imports to local files; refuses anything else."""

    def resolve(
        self, system_url: str | None, public_id: str | None, context: object
    ) -> _InputDocument | None:
        url = system_url or ""
        local = _IMPORTS.get(url)
        if local is not None:
            return self.resolve_filename(str(SCHEMA_DIR / local), context)
        path = Path(url.removeprefix("file://"))
        if path.is_absolute() and path.resolve().is_relative_to(SCHEMA_DIR):
            return self.resolve_filename(str(path), context)
        raise ConfigError(f"XML Schema 引用了未随软件提供的外部文件「{url}」，离线环境无法加载")


@dataclass(frozen=True)
class CompiledSchema:
    """A compiled schema and the lock that serialises its use (lxml validators keep state)."""

    name: str
    info: SchemaInfo
    schema: etree.XMLSchema
    lock: threading.Lock


@functools.cache
def compiled_schema(name: str) -> CompiledSchema:
    """The compiled schema ``name`` (a key of :data:`SCHEMAS`), compiled once per process."""
    info = SCHEMAS.get(name)
    if info is None:
        raise NotFound(f"没有名为「{name}」的 XML Schema（可用：{'、'.join(sorted(SCHEMAS))}）")
    path = SCHEMA_DIR / info.path
    try:
        doc = etree.parse(str(path), safe_parser(resolver=_LocalSchemas()))
        schema = etree.XMLSchema(doc)
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise ConfigError(f"随软件提供的 XML Schema「{info.path}」无法加载：{exc}") from exc
    return CompiledSchema(name, info, schema, threading.Lock())


def validate(
    doc: etree._ElementTree | etree._Element, schema_name: str, *, file: str = ""
) -> list[Problem]:
    """Every schema violation of ``doc`` as a Problem with its line; [] when valid."""
    compiled = compiled_schema(schema_name)
    with compiled.lock:
        ok = compiled.schema.validate(doc)
        errors = [] if ok else list(compiled.schema.error_log)
    rule = f"{compiled.info.title} XML Schema"
    ns = re.compile(re.escape(f"{{{compiled.info.namespace}}}"))
    problems = [
        Problem(
            message=_readable(ns, e.message),
            rule=rule,
            file=file,
            row=e.line if e.line > 0 else None,
        )
        for e in errors[:MAX_PROBLEMS]
    ]
    if len(errors) > MAX_PROBLEMS:
        problems.append(
            Problem(
                message=f"另有 {len(errors) - MAX_PROBLEMS} 处不符合，未逐条列出",
                rule=rule,
                file=file,
            )
        )
    return problems


def _readable(ns: re.Pattern[str], message: str) -> str:
    """libxml2's message without the schema's own namespace and without huge value lists."""
    message = ns.sub("", message)
    message = _LONG_SET.sub("{…}", message)
    return _LONG_QUOTE.sub(lambda m: f"'{m.group(1)[:40]}…'", message)
