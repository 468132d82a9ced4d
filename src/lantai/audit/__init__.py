"""The audit trail: typed event vocabulary and the append-only, HMAC-SM3-chained log."""

from lantai.audit.events import PREMIS_EVENT_TYPES, EventType, Outcome
from lantai.audit.log import AuditLog, ChainReport

__all__ = ["PREMIS_EVENT_TYPES", "AuditLog", "ChainReport", "EventType", "Outcome"]
