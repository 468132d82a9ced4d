"""Record-level rules: the 密级 and the 门类 of the record (not text patterns).

* ``security_level``: the stored 密级 (``秘密★10年`` → base ``秘密``) is one of the rule's levels
  and the record is not marked declassified. Declassification is recorded, for now, as
  ``fields["declassified"]`` (the 解密 date YYYYMMDD, or true) or a 密级 value containing 解密.
* ``category``: the record's 门类 code is one of the rule's categories (e.g. RS 人事).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from lantai.appraisal.screening.config import CategoryRule, SecurityLevelRule

__all__ = ["CategoryDetector", "SecurityLevelDetector", "is_declassified"]

_BASE = re.compile(r"^\s*([^★*]+?)\s*(?:[★*].*)?$")


def is_declassified(values: Mapping[str, Any]) -> bool:
    level = str(values.get("security_level") or "")
    return "解密" in level or bool(values.get("declassified"))


class SecurityLevelDetector:
    def __init__(self, rules: Sequence[SecurityLevelRule]) -> None:
        self.rules = list(rules)

    def find(self, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """(rule id, the stored value) for each rule hit."""
        raw = values.get("security_level")
        if not raw or is_declassified(values):
            return
        m = _BASE.match(str(raw))
        base = m.group(1) if m else str(raw).strip()
        for rule in self.rules:
            if base in rule.levels:
                yield rule.id, str(raw)


class CategoryDetector:
    def __init__(self, rules: Sequence[CategoryRule]) -> None:
        self.rules = list(rules)

    def find(self, values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        cat = values.get("category")
        if not cat:
            return
        for rule in self.rules:
            if str(cat) in rule.categories:
                yield rule.id, str(cat)
