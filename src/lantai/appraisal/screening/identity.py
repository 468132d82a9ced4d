"""居民身份证号码 (GB 11643-1999): 18 digits with region, birth date and check digit.

* 18-digit form: a run of exactly 18 characters (17 digits + digit or X) not inside a longer digit
  run, whose first two digits are a province-level code, whose digits 7–14 are a real date between
  1900-01-01 and today, and whose last character is the ISO 7064 MOD 11-2 check digit.
* 15-digit legacy form (before 1999; optional): 15 digits, province code and a valid 19YYMMDD birth
  date; because many other 15-digit numbers exist, it is only reported when a context word such
  as 身份证 occurs within ``legacy_window`` characters before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from lantai.appraisal.screening.base import Found
from lantai.appraisal.screening.config import IdCardRule

__all__ = ["IdCardDetector", "id18_check_digit", "id18_valid", "plausible_id18"]

# Province-level codes (GB/T 2260): 11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71 台湾, 81 香港,
# 82 澳门, 83 (台湾居民居住证), 91 (港澳居民居住证 use 81/82; 91 is kept for older records).
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID18 = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9xX](?![0-9])")
_ID15 = re.compile(r"(?<![0-9])[1-9][0-9]{14}(?![0-9])")


def id18_check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _valid_birth(y: int, m: int, d: int, today: date) -> bool:
    try:
        born = date(y, m, d)
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= today


def plausible_id18(digits: str, today: date | None = None) -> bool:
    """Region and birth date valid (the check digit is not looked at)."""
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    if int(digits[:2]) not in PROVINCES:
        return False
    return _valid_birth(
        int(digits[6:10]), int(digits[10:12]), int(digits[12:14]), today or date.today()
    )


def id18_valid(s: str, today: date | None = None) -> bool:
    return plausible_id18(s, today) and id18_check_digit(s[:17]) == s[17].upper()


class IdCardDetector:
    def __init__(self, rule: IdCardRule, today: date | None = None) -> None:
        self.rule = rule
        self.today = today or date.today()
        self._context = re.compile("|".join(re.escape(w) for w in rule.legacy_context) or "(?!)")

    def find(self, text: str) -> Iterator[Found]:
        for m in _ID18.finditer(text):
            if id18_valid(m.group(), self.today):
                yield Found(m.start(), m.end(), self.rule.id)
        if not self.rule.legacy_15:
            return
        for m in _ID15.finditer(text):
            s = m.group()
            if int(s[:2]) not in PROVINCES:
                continue
            if not _valid_birth(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]), self.today):
                continue
            before = text[max(0, m.start() - self.rule.legacy_window) : m.start()]
            if self._context.search(before):
                yield Found(m.start(), m.end(), self.rule.id)
