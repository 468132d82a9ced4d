"""Sensitive terms by category: every terms rule in one trie regex, one pass over the text.

Terms are folded like the text (繁→简, full-width → half-width, lower case), so 國家秘密 in a
scanned 繁体 text matches 国家秘密 in the list. A term in several rules reports every rule. A
rule's ``not_within`` words are longer words in which its term is not a hit (政审 inside 行政审批).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from lantai.appraisal.screening.base import Found
from lantai.appraisal.screening.config import TermsRule
from lantai.appraisal.screening.trie import trie_regex
from lantai.archival.text import fold_text

__all__ = ["TermsDetector"]


class TermsDetector:
    def __init__(self, rules: Sequence[TermsRule]) -> None:
        self.by_term: dict[str, list[str]] = {}
        # (rule id, term) → (offset of the term in the longer word, the longer word)
        self.within: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for rule in rules:
            for term in rule.terms:
                folded = fold_text(term.strip())
                ids = self.by_term.setdefault(folded, [])
                if rule.id not in ids:
                    ids.append(rule.id)
                for word in map(fold_text, rule.not_within):
                    at = word.find(folded)
                    while at >= 0:
                        self.within.setdefault((rule.id, folded), []).append((at, word))
                        at = word.find(folded, at + 1)
        self.regex = trie_regex(self.by_term)

    def _inside_longer_word(self, text: str, start: int, rule_id: str, term: str) -> bool:
        return any(
            start >= at and text.startswith(word, start - at)
            for at, word in self.within.get((rule_id, term), ())
        )

    def find(self, text: str) -> Iterator[Found]:
        if not self.by_term:
            return
        for m in self.regex.finditer(text):
            term = m.group()
            for rule_id in self.by_term.get(term, ()):
                if not self._inside_longer_word(text, m.start(), rule_id, term):
                    yield Found(m.start(), m.end(), rule_id)
