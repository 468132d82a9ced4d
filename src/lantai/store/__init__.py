"""Persistence: models, the database handle and migrations. No business rules live here."""

from lantai.store.appraisal import (
    RecordOpenReview,
    ReviewBatch,
    ReviewDecision,
    ReviewItem,
    ReviewTask,
    UnitOpinion,
)
from lantai.store.auth import LoginSession, User, UserRole
from lantai.store.backup import Backup, BackupVerification
from lantai.store.base import Base, utcnow
from lantai.store.catalogue import COLUMN_KEYS, CodeCounter, ImportBatch, Record, RecordClosure
from lantai.store.dashboard import (
    DashboardCursor,
    DashboardHolding,
    DashboardPartition,
    DashboardTransition,
)
from lantai.store.db import Database, after_commit
from lantai.store.digitisation import (
    LinkingStat,
    ScanBatch,
    ScanDerivative,
    ScanPage,
    ScanPageText,
)
from lantai.store.disposal import DisposalBatch, DisposalDecision, DisposalItem
from lantai.store.events import Event
from lantai.store.ingest import IngestTransfer, IngestUpload, RecordFile, ReviewState, TransferState
from lantai.store.jobs import Job
from lantai.store.publication import (
    PublicationBatch,
    PublicationDecision,
    PublicationItem,
    PublicationState,
    PublishedRecord,
    PublishedText,
)
from lantai.store.storage import Alert, FixityRun, StorageCopy
from lantai.store.texts import RecordText

__all__ = [
    "COLUMN_KEYS",
    "Alert",
    "Backup",
    "BackupVerification",
    "Base",
    "CodeCounter",
    "DashboardCursor",
    "DashboardHolding",
    "DashboardPartition",
    "DashboardTransition",
    "Database",
    "DisposalBatch",
    "DisposalDecision",
    "DisposalItem",
    "Event",
    "FixityRun",
    "ImportBatch",
    "IngestTransfer",
    "IngestUpload",
    "Job",
    "LinkingStat",
    "LoginSession",
    "PublicationBatch",
    "PublicationDecision",
    "PublicationItem",
    "PublicationState",
    "PublishedRecord",
    "PublishedText",
    "Record",
    "RecordClosure",
    "RecordFile",
    "RecordOpenReview",
    "RecordText",
    "ReviewBatch",
    "ReviewDecision",
    "ReviewItem",
    "ReviewState",
    "ReviewTask",
    "ScanBatch",
    "ScanDerivative",
    "ScanPage",
    "ScanPageText",
    "StorageCopy",
    "TransferState",
    "UnitOpinion",
    "User",
    "UserRole",
    "after_commit",
    "utcnow",
]
