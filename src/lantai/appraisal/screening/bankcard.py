"""Bank card numbers: 16–19 digits passing the Luhn check, with a configured issuer prefix.

Written as one run or in groups of four separated by a space or ``-``; never part of a longer
digit run. An 18-digit run whose region and birth date make it a plausible 身份证号 is never a
bank card (even with a wrong check digit: it is a mistyped ID, not a card). Luhn alone lets one
random number in ten through; the issuer prefixes (62 银联, 4 Visa, 5 MasterCard, 3 JCB/AmEx,
60/9 older domestic cards) halve that again. Order and serial numbers that happen to pass both
are the expected false positives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from lantai.appraisal.screening.base import Found
from lantai.appraisal.screening.config import BankCardRule
from lantai.appraisal.screening.identity import plausible_id18

__all__ = ["BankCardDetector", "luhn_valid"]

_CARD = re.compile(
    r"(?<![0-9])(?:[0-9]{16,19}(?![0-9x])"
    r"|(?<![0-9][ -])[0-9]{4}(?:[ -][0-9]{4}){3}(?:[ -][0-9]{1,3})?(?![0-9])(?![ -][0-9]))"
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


class BankCardDetector:
    def __init__(self, rule: BankCardRule, today: date | None = None) -> None:
        self.rule = rule
        self.today = today or date.today()
        self.prefixes = tuple(rule.iin_prefixes)

    def find(self, text: str) -> Iterator[Found]:
        for m in _CARD.finditer(text):
            digits = re.sub(r"[ -]", "", m.group())
            if not 16 <= len(digits) <= 19 or not digits.startswith(self.prefixes):
                continue
            if len(digits) == 18 and plausible_id18(digits, self.today):
                continue
            if luhn_valid(digits):
                yield Found(m.start(), m.end(), self.rule.id)
