"""Chinese text analysis shared by indexing and querying.

Normalisation (:func:`fold`) is :func:`lantai.archival.text.fold_text` — NFKC (full-width →
half-width), OpenCC t2s (traditional and variant forms → simplified; the one cached converter of
the process), Latin lower-cased — followed by removal of the pinyin glosses that bad conversions
leave behind a character (``長(zhǎng)`` → ``长``), which would otherwise split words.

Tokenisation (:func:`token_string`) splits the folded text into runs of CJK characters and runs of
other letters and digits; punctuation and spaces only separate runs. A Latin/digit run is one token
(``z109``, ``2010``). A CJK run of *n* characters gives *n* tokens, one per character position:
the overlapping bigrams, then the run's last character alone::

    档案馆2010 → 档案 案馆 馆 2010

One token per character keeps positions aligned, so a phrase query over the tokens of any substring
matches exactly where the substring occurs (see :func:`query_slots`), and a one-character query is a
prefix query (``档`` matches ``档`` and every ``档?`` bigram), which finds every occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from operator import add

from lantai.archival.text import fold_text

__all__ = [
    "CJK",
    "Slot",
    "TokenCache",
    "analyze",
    "fold",
    "fold_many",
    "fold_with_offsets",
    "is_cjk",
    "key_form",
    "query_slots",
    "runs",
    "token_string",
    "tokens_of_runs",
]

# Han (unified, extensions A–G, compatibility), 〇, kana and hangul: text written without spaces.
CJK = "\u3007\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_RUNS = re.compile(f"[{CJK}]+|[^\\W_{CJK}]+")
_CJK_CHAR = re.compile(f"[{CJK}]")
_TONES = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_GLOSS = re.compile(f"(?<=[{CJK}])\\((?=[a-zü]*[{_TONES}])[a-zü{_TONES}]{{1,8}}\\)")
# Punctuation, spaces and line breaks between two CJK characters are dropped: Chinese is written
# without spaces, so 印发《实施意见》的通知 is found by 印发实施意见, 「档案」 by “档案”, and a word that
# OCR split over two lines by the whole word. Next to Latin letters and digits they separate runs.
_TRANSPARENT = re.compile(f"(?<=[{CJK}])[\\W_]+(?=[{CJK}])")
_MAX_TOKEN = 64  # longer Latin runs (hashes, base64) are cut: nobody types them as words


def is_cjk(ch: str) -> bool:
    return _CJK_CHAR.match(ch) is not None


def _clean(folded: str) -> str:
    """Remove pinyin glosses, then the punctuation between CJK characters."""
    if folded.isalnum():  # most titles: nothing to remove
        return folded
    if "(" in folded:
        folded = _GLOSS.sub("", folded)
    return _TRANSPARENT.sub("", folded)


def fold(text: str) -> str:
    """NFKC, traditional → simplified, lower case; pinyin glosses and the punctuation between
    CJK characters removed."""
    return _clean(fold_text(text))


def fold_many(texts: Sequence[str]) -> list[str]:
    """``[fold(t) for t in texts]`` with one OpenCC call for the joined texts."""
    if not texts:
        return []
    joined = "\n".join(t.replace("\n", " ") if "\n" in t else t for t in texts)
    out = fold_text(joined).split("\n")
    if len(out) != len(texts):  # pragma: no cover - a converter that changed a line break
        return [fold(t) for t in texts]
    return [_clean(x) for x in out]


def runs(folded: str) -> list[str]:
    """The CJK runs and Latin/digit runs of folded text, in order."""
    return _RUNS.findall(folded)


def tokens_of_runs(parts: Sequence[str]) -> str:
    """The whitespace-separated index tokens of the runs of folded text (module docstring)."""
    out: list[str] = []
    put = out.append
    join = " ".join
    for run in parts:
        if run > "\u2fff":  # CJK: Latin and digit runs start below U+3000
            if len(run) > 1:
                put(join(map(add, run, run[1:])))
                put(run[-1])
            else:
                put(run)
        else:
            put(run if len(run) <= _MAX_TOKEN else run[:_MAX_TOKEN])
    return join(out)


def token_string(folded: str) -> str:
    """The index tokens of folded text: ``tokens_of_runs(runs(folded))``."""
    return tokens_of_runs(_RUNS.findall(folded))


def analyze(text: str) -> str:
    """``token_string(fold(text))``: what the indexer stores for one text value."""
    return token_string(fold(text))


def key_form(text: str) -> str:
    """Exact-match form of a 档号 or 文号: folded runs joined by one space.

    Punctuation variants are equivalent (``赣府发〔2010〕12号`` = ``赣府发[2010]12号``,
    ``·`` = ``・`` = ``.``); characters, digits and their order must match exactly.
    """
    return " ".join(runs(fold(text)))


class TokenCache:
    """``analyze`` with a bounded memo, for values repeated across records (责任者, 主送 …)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._memo: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        found = self._memo.get(text)
        if found is None:
            if len(self._memo) >= self.limit:
                self._memo.clear()
            found = self._memo[text] = analyze(text)
        return found


# -- queries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One position of a query phrase: an exact token, or (last slot only) a token prefix."""

    token: str
    prefix: bool = False


def query_slots(folded: str) -> list[Slot]:
    """The token positions a phrase must match, for exact substring semantics.

    Each CJK run gives its bigrams; its last character is an exact unigram when another run
    follows (the document's run must end there too), is dropped when it is already covered by
    the run's last bigram at the end of the phrase, and is a prefix when the phrase ends with a
    one-character run (the document may continue the run: ``12号`` matches ``12号文``).
    """
    parts = _RUNS.findall(folded)
    slots: list[Slot] = []
    for i, run in enumerate(parts):
        last = i == len(parts) - 1
        if run > "\u2fff":
            slots += [Slot(a + b) for a, b in pairwise(run)]
            if not last:
                slots.append(Slot(run[-1]))
            elif len(run) == 1:
                slots.append(Slot(run, prefix=True))
        else:
            slots.append(Slot(run[:_MAX_TOKEN]))
    return slots


# -- highlighting ----------------------------------------------------------------------------------


# Short texts (titles, 责任者, 档号 of the hits) recur from search to search: their folds are kept.
_FOLD_CACHE_CHARS = 512


def fold_with_offsets(text: str) -> tuple[str, Sequence[int]]:
    """Folded text and, for each of its characters, the index of the source character.

    Used to place highlights in the original text. Folding is character by character when the
    whole-text fold changes the length (rare: ligatures, phrase conversions), so offsets stay exact.
    """
    if len(text) <= _FOLD_CACHE_CHARS:
        return _fold_with_offsets_cached(text)
    return _fold_with_offsets(text)


@lru_cache(maxsize=16_384)
def _fold_with_offsets_cached(text: str) -> tuple[str, tuple[int, ...]]:
    folded, offsets = _fold_with_offsets(text)
    return folded, tuple(offsets)


def _fold_with_offsets(text: str) -> tuple[str, list[int]]:
    folded = fold_text(text)
    if len(folded) == len(text):
        offsets = list(range(len(text)))
    else:
        folded, offsets = _fold_chars(text, fold_text)
    for pattern in (_GLOSS, _TRANSPARENT):
        spans = [m.span() for m in pattern.finditer(folded)]
        if spans:
            keep = [True] * len(folded)
            for a, b in spans:
                keep[a:b] = [False] * (b - a)
            folded = "".join(c for c, k in zip(folded, keep, strict=True) if k)
            offsets = [o for o, k in zip(offsets, keep, strict=True) if k]
    return folded, offsets


def _fold_chars(text: str, fn: Callable[[str], str]) -> tuple[str, list[int]]:
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        f = fn(ch)
        out.append(f)
        offsets += [i] * len(f)
    return "".join(out), offsets
