"""Pure archival domain rules: levels, code tables, 档号 rules, metadata schemes, 三合一 tables.

Nothing in this package does I/O apart from reading its own data files at load.
"""

from lantai.archival.archival_code import CodeRule, CodeRuleBook, ParsedCode
from lantai.archival.classification import ClassificationTable, Suggestion
from lantai.archival.codes import CodeTable
from lantai.archival.domain import Domain, build_domain, load_domain
from lantai.archival.levels import ALLOWED_PARENTS, Level
from lantai.archival.scheme import Element, MetadataScheme, normalize_date

__all__ = [
    "ALLOWED_PARENTS",
    "ClassificationTable",
    "CodeRule",
    "CodeRuleBook",
    "CodeTable",
    "Domain",
    "Element",
    "Level",
    "MetadataScheme",
    "ParsedCode",
    "Suggestion",
    "build_domain",
    "load_domain",
    "normalize_date",
]
