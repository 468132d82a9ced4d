"""Masked forms of matched personal data; the length is kept so offsets stay valid.

* 身份证号, 银行卡号: first 6 and last 4 digits kept (``110101********1234``).
* 手机号: first 3 and last 4 digits kept (``138****5678``).
* 固定电话: the area code and the last 4 digits kept (``0791-****6666``).
* 人名: the surname kept, each given-name character replaced (``张*``, ``欧阳**``).
Other kinds (terms, 密级) are not personal data and are shown as they are.
"""

from __future__ import annotations

__all__ = ["MASK", "area_code_digits", "mask_digits", "mask_match"]

MASK = "*"


def mask_digits(text: str, head: int, tail: int, char: str = MASK) -> str:
    """Replace every digit (and X) except the first ``head`` and the last ``tail`` ones."""
    positions = [i for i, c in enumerate(text) if c.isdigit() or c in "xX"]
    keep = set(positions[:head]) | set(positions[len(positions) - tail :] if tail else [])
    return "".join(char if i in positions and i not in keep else c for i, c in enumerate(text))


def area_code_digits(text: str) -> int:
    """How many leading digits of a landline number are its area code (010, 02x: 3; else 4)."""
    digits = [c for c in text if c.isdigit()]
    return 3 if "".join(digits[:3]) == "010" or "".join(digits[:2]) == "02" else 4


def _mask_landline(text: str) -> str:
    return mask_digits(text, area_code_digits(text), 4)


def mask_match(kind: str, text: str, surname_len: int = 1) -> str:
    if kind in ("id_card", "bank_card"):
        return mask_digits(text, 6, 4)
    if kind == "mobile":
        return mask_digits(text, 3, 4)
    if kind == "landline":
        return _mask_landline(text)
    if kind == "name_context":
        return text[:surname_len] + MASK * (len(text) - surname_len)
    return text
