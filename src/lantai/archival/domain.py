"""The compiled archival domain: code tables, 档号 rules, metadata schemes and 三合一 tables.

Built once per application from the validated data files (:func:`load_domain`) and passed
explicitly to the services that need it; there is no module-level registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lantai.archival.archival_code import CodeRuleBook
from lantai.archival.classification import ClassificationBook
from lantai.archival.codes import CodeTable
from lantai.archival.config import RawDomain, SchemeFile, load_raw_domain
from lantai.archival.scheme import MetadataScheme

__all__ = ["Domain", "load_domain"]


@dataclass(frozen=True)
class Domain:
    tables: dict[str, CodeTable]
    codes: CodeRuleBook
    schemes: dict[str, MetadataScheme]  # by category code
    classifications: ClassificationBook
    raw: RawDomain

    def table(self, name: str) -> CodeTable:
        return self.tables[name]

    def scheme_for(self, category: str | None) -> MetadataScheme:
        """The scheme of a 门类; levels above 门类 (全宗, 类别 without one) use the WS scheme's base."""
        if category and category in self.schemes:
            return self.schemes[category]
        return self.schemes["__base__"]

    def category_label(self, code: str | None) -> str:
        return self.tables["category"].label(code) if code else ""


def build_domain(raw: RawDomain) -> Domain:
    tables = {name: CodeTable(name, spec) for name, spec in raw.codes.tables.items()}
    codes = CodeRuleBook(
        raw.archival_codes.rules,
        raw.archival_codes.fields,
        raw.archival_codes.assignments,
        {name: t.codes() for name, t in tables.items()},
    )
    by_id = {s.id: s for s in raw.schemes}
    schemes: dict[str, MetadataScheme] = {}
    for spec in raw.schemes:
        chain: list[SchemeFile] = []
        parent = spec.extends
        seen = {spec.id}
        while parent is not None and parent not in seen:
            seen.add(parent)
            chain.insert(0, by_id[parent])
            parent = by_id[parent].extends
        compiled = MetadataScheme(spec, chain, tables)
        for cat in spec.categories:
            schemes[cat] = compiled
        if spec.id == "base":
            schemes["__base__"] = compiled
    return Domain(
        tables=tables,
        codes=codes,
        schemes=schemes,
        classifications=ClassificationBook(raw.classifications),
        raw=raw,
    )


def load_domain(config_dir: Path | None = None) -> Domain:
    """Load, validate and compile the domain (shipped data + instance overrides in config_dir)."""
    return build_domain(load_raw_domain(config_dir))
