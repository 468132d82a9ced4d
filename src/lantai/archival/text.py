"""Text folding for comparisons: traditional → simplified (OpenCC t2s) and full-width → half-width.

Used wherever a person's word is compared with configured words (三合一 keywords, column headers),
so that 檔案 and 档案 are the same word. The converter is created once per process.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import opencc

__all__ = ["fold_text", "to_simplified"]


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_t2s().convert(text))


def fold_text(text: str) -> str:
    """NFKC (full-width → half-width), traditional → simplified, Latin lower-cased."""
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()
