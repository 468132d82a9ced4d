"""Persistence: models, the database handle and migrations. No business rules live here."""

from lantai.store.auth import LoginSession, User, UserRole
from lantai.store.base import Base, utcnow
from lantai.store.catalogue import COLUMN_KEYS, CodeCounter, ImportBatch, Record, RecordClosure
from lantai.store.db import Database, after_commit
from lantai.store.events import Event
from lantai.store.ingest import IngestTransfer, IngestUpload, RecordFile, ReviewState, TransferState
from lantai.store.jobs import Job
from lantai.store.texts import RecordText

__all__ = [
    "COLUMN_KEYS",
    "Base",
    "CodeCounter",
    "Database",
    "Event",
    "ImportBatch",
    "IngestTransfer",
    "IngestUpload",
    "Job",
    "LoginSession",
    "Record",
    "RecordClosure",
    "RecordFile",
    "RecordText",
    "ReviewState",
    "TransferState",
    "User",
    "UserRole",
    "after_commit",
    "utcnow",
]
