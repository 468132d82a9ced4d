"""Verification codes: 16 characters of Crockford base32, the last one a check character.

15 random characters carry 75 bits from :mod:`secrets`, so guessing a code is impractical
(with a million certificates issued, one guess in 3.8 × 10¹⁶ hits one). The 16th character is a
Luhn mod 32 check: every single mistyped character and every swap of two neighbours is caught
before the database is asked. (Luhn mod N cannot see a swap of the characters worth 0 and N − 1,
``0`` and ``Z``, so codes are drawn without that pair side by side.) Codes are shown as four groups (``ABCD-EFGH-JKMN-PQRS``); input is
normalised (case, spaces, hyphens, and the Crockford look-alikes I/L → 1, O → 0).
"""

from __future__ import annotations

import secrets

__all__ = ["ALPHABET", "CODE_LENGTH", "display", "is_valid", "new_code", "normalise"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def _check_char(body: str) -> str:
    """Luhn mod N (N = 32) over ``body``, rightmost character doubled first."""
    n = len(ALPHABET)
    total, factor = 0, 2
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


_BLIND_PAIRS = (ALPHABET[0] + ALPHABET[-1], ALPHABET[-1] + ALPHABET[0])


def new_code() -> str:
    while True:
        body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH - 1))
        code = body + _check_char(body)
        if not any(pair in code for pair in _BLIND_PAIRS):
            return code


def normalise(text: str) -> str:
    """Upper case without separators and with look-alikes mapped; not checked."""
    return "".join(ch for ch in text.upper() if ch not in " -_\t\r\n").translate(_ALIASES)


def is_valid(code: str) -> bool:
    """Right length, alphabet and check character (``code`` already normalised)."""
    if len(code) != CODE_LENGTH or any(ch not in _VALUE for ch in code):
        return False
    return _check_char(code[:-1]) == code[-1]


def display(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
