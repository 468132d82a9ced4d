"""A regular expression built from a trie of words: one pass over the text, shared prefixes.

Python's ``re`` tries alternatives one after another at each position; nesting the words by
common prefix (``国家(?:秘密|安全)``) makes that cost depend on the depth of the trie rather than
the number of words, which is what an Aho-Corasick automaton gives. Longer words win over their
prefixes at the same position (``记大过`` before ``记过`` is not an issue, ``绝密文件`` before
``绝密`` is).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["trie_pattern", "trie_regex"]


def trie_pattern(words: Iterable[str]) -> str:
    """The pattern text matching any of ``words`` (longest first at each position)."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        if not word:
            continue
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    if not root:
        return "(?!)"
    return _pattern(root)


def _pattern(node: dict) -> str:  # type: ignore[type-arg]
    end = "" in node
    branches = [re.escape(ch) + _pattern(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if end:
        # The word may end here, but a longer one is preferred (greedy optional group).
        return f"(?:{body})?"
    return body


def trie_regex(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(trie_pattern(words))
