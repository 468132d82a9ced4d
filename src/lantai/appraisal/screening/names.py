"""Personal names next to sensitive context words (人名 + 处分/病历/判决 …).

The rule set (documented in docs/appraisal.md, 人名规则):

1. Find the context words of every ``name_context`` rule (one trie regex pass). No context word,
   no name search: the cost is paid only where it matters.
2. Around each context word, within the rule's ``window`` characters, look for a candidate name:
   a surname from the lexicon (a compound surname such as 欧阳 first, then a single one) followed
   by one or two given-name characters. A given-name character is a CJK character that is not a
   stop character (虚词, common verb heads, the first character of 某 …) and where neither a title
   (同志, 局长 …) nor a context word begins.
3. Rejected: a candidate starting with a non-name word (严重, 任职, 方案 … a surname character that
   begins a common word), or whose surname character ends a common word (责任, 主任, 担任 …: the
   ``word_endings``), or with an excluded whole word (王府井, 张家口 …); one followed by a place
   or organisation suffix (路, 村, 公司, 医院 …); one overlapping a context word; an anonymised form
   (张某, 李某某: 某 is a stop character so it never forms a given name).
4. A name is reported once per rule whose context word lies within that rule's window of it.

Limits: names whose surname is not in the list (or is deliberately left out because it is mostly
a function word: 于, 文, 安 …) are missed; a two-character name followed by a character that is
neither a stop character nor a title is read as a three-character name (李强主动 → 李强主); names
far from any context word are not reported; and a surname character that starts an ordinary word
not in the non-name list gives a false positive. Those trade-offs are measured on the labelled set
(tests/appraisal/screening_set.yaml), not on real holdings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from lantai.appraisal.screening.base import Found, is_cjk
from lantai.appraisal.screening.config import Lexicon, NameContextRule
from lantai.appraisal.screening.trie import trie_regex
from lantai.archival.text import fold_text

__all__ = ["NameContextDetector", "NameFinder"]


def _by_first(words: Sequence[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for w in words:
        if w:
            out.setdefault(w[0], []).append(w)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in out.items()}


class NameFinder:
    """Candidate personal names in a span of folded text (steps 2–3 above)."""

    def __init__(self, lexicon: Lexicon, context_words: Sequence[str] = ()) -> None:
        f = fold_text
        self.surnames = frozenset(f(lexicon.surnames))
        self.compound = frozenset(f(s) for s in lexicon.compound_surnames)
        self.first_chars = self.surnames | {s[0] for s in self.compound}
        self.stop = frozenset(f(lexicon.stop_chars)) | frozenset(f(lexicon.anonymised))
        self.anonymised = frozenset(f(lexicon.anonymised))
        self.skip_words = _by_first([f(w) for w in (*lexicon.non_name_words, *lexicon.exclusions)])
        self.suffixes = _by_first([f(w) for w in lexicon.suffixes])
        self.titles = _by_first([f(w) for w in lexicon.titles])
        self.terminators = _by_first([f(w) for w in (*lexicon.titles, *context_words)])
        self.endings: dict[str, tuple[str, ...]] = {}
        for w in {f(x) for x in lexicon.word_endings if x}:
            self.endings[w[-1]] = (*self.endings.get(w[-1], ()), w)

    def _ends_word(self, text: str, pos: int) -> bool:
        """Whether the character at ``pos`` is the last one of a ``word_endings`` word."""
        return any(
            pos + 1 >= len(w) and text.startswith(w, pos + 1 - len(w))
            for w in self.endings.get(text[pos], ())
        )

    def _starts(self, text: str, pos: int, table: dict[str, tuple[str, ...]]) -> str | None:
        if pos >= len(text):
            return None
        for w in table.get(text[pos], ()):
            if text.startswith(w, pos):
                return w
        return None

    def candidates(self, text: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """(start, end) of candidate names starting in [lo, hi)."""
        p = max(0, lo)
        hi = min(hi, len(text))
        while p < hi:
            ch = text[p]
            if ch not in self.first_chars:
                p += 1
                continue
            skip = self._starts(text, p, self.skip_words)
            if skip is not None:
                p += len(skip)
                continue
            if self._ends_word(text, p):
                p += 1
                continue
            sl = 2 if text[p : p + 2] in self.compound else 1
            if sl == 1 and ch not in self.surnames:
                p += 1
                continue
            j = p + sl
            while j < len(text) and j - p - sl < 2:
                c = text[j]
                if not is_cjk(c) or c in self.stop or self._starts(text, j, self.terminators):
                    break
                j += 1
            if j == p + sl or all(c in self.anonymised for c in text[p + sl : j]):
                p += 1
                continue
            titled = self._starts(text, j, self.titles) is not None
            if not titled and self._starts(text, j, self.suffixes) is not None:
                p = j
                continue
            yield p, j
            p = j


class NameContextDetector:
    """Steps 1 and 4: context words of all name rules, then names within each rule's window."""

    def __init__(self, lexicon: Lexicon, rules: Sequence[NameContextRule]) -> None:
        self.rules = list(rules)
        self.by_word: dict[str, list[NameContextRule]] = {}
        for rule in self.rules:
            for w in rule.context_words:
                self.by_word.setdefault(fold_text(w), []).append(rule)
        self.context = trie_regex(self.by_word)
        self.finder = NameFinder(lexicon, list(self.by_word))
        self.max_window = max((r.window for r in self.rules), default=0)

    def find(self, text: str) -> Iterator[Found]:
        if not self.rules:
            return
        contexts = [(m.start(), m.end(), m.group()) for m in self.context.finditer(text)]
        if not contexts:
            return
        # Candidate names in the union of the windows around the context words.
        ranges: list[tuple[int, int]] = []
        for s, e, _ in contexts:
            lo, hi = s - self.max_window - 3, e + self.max_window
            if ranges and lo <= ranges[-1][1]:
                ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hi))
            else:
                ranges.append((lo, hi))
        seen: set[tuple[int, int]] = set()
        names: list[tuple[int, int]] = []
        for lo, hi in ranges:
            for span in self.finder.candidates(text, lo, hi):
                if span not in seen:
                    seen.add(span)
                    names.append(span)
        for ns, ne in names:
            if any(s < ne and ns < e for s, e, _ in contexts):
                continue
            reported: set[str] = set()
            for s, e, word in contexts:
                gap = s - ne if s >= ne else ns - e
                for rule in self.by_word[word]:
                    if rule.id not in reported and gap <= rule.window:
                        reported.add(rule.id)
                        yield Found(ns, ne, rule.id)
