"""What every detector returns: a span of the folded text and the rule that matched."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Found", "is_cjk"]


class Found(NamedTuple):
    start: int
    end: int
    rule_id: str


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
