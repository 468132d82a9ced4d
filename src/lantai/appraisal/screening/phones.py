"""Mobile and landline telephone numbers (mainland China numbering plan).

* Mobile: ``1[3-9]`` + 9 digits, written as 11 digits or 3-4-4 with ``-`` or a space; not part of
  a longer digit run. A ``+86``/``0086`` prefix is allowed before it (and not reported).
* Landline: an area code (``010``, ``02x`` or ``0[3-9]xx``) then a local number of 7–8 digits
  starting with 2–9, written ``(0791)88886666``, ``0791-88886666``, ``0791 88886666`` or
  ``079188886666``; not part of a longer digit run. Local numbers without an area code, 400/800
  service numbers and extensions are not reported (too ambiguous with other numbers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lantai.appraisal.screening.base import Found
from lantai.appraisal.screening.config import LandlineRule, MobileRule

__all__ = ["LandlineDetector", "MobileDetector"]

_MOBILE = re.compile(
    r"(?:(?<=\+86)|(?<=\+86[ -])|(?<=0086)|(?<![0-9]))"
    r"(?:1[3-9][0-9]{9}(?![0-9])"
    r"|(?<![0-9][ -])1[3-9][0-9][ -][0-9]{4}[ -][0-9]{4}(?![ -]?[0-9]))"
)
_AREA = r"(?:010|02[0-9]|0[3-9][0-9]{2})"
_LANDLINE = re.compile(
    r"(?<![0-9])(?<![0-9][ -])"
    rf"(?:\({_AREA}\)[ ]?|{_AREA}[-—–][ ]?|{_AREA}[ ]|{_AREA})"
    r"[2-9][0-9]{6,7}(?![0-9])(?![ -][0-9])"
)


class MobileDetector:
    def __init__(self, rule: MobileRule) -> None:
        self.rule = rule

    def find(self, text: str) -> Iterator[Found]:
        for m in _MOBILE.finditer(text):
            yield Found(m.start(), m.end(), self.rule.id)


class LandlineDetector:
    def __init__(self, rule: LandlineRule) -> None:
        self.rule = rule

    def find(self, text: str) -> Iterator[Found]:
        for m in _LANDLINE.finditer(text):
            yield Found(m.start(), m.end(), self.rule.id)
