"""Type aliases shared across capabilities."""

from __future__ import annotations

from typing import Any, NewType

__all__ = ["ArchivalCode", "FieldValues", "Sha256Hex", "Sm3Hex"]

Sha256Hex = NewType("Sha256Hex", str)
Sm3Hex = NewType("Sm3Hex", str)
ArchivalCode = NewType("ArchivalCode", str)
# The element values of one unit of description, keyed by the element key of the scheme.
FieldValues = dict[str, Any]
