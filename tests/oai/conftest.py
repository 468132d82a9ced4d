"""OAI fixtures live in tests/oai_support.py (shared with the bench-style harvest tests)."""

from oai_support import assert_valid, holdings, oai_schema

__all__ = ["assert_valid", "holdings", "oai_schema"]
