"""Persistence: models, the database handle and migrations. No business rules live here."""

from lantai.store.access import (
    AccessGrant,
    AccessRequest,
    Citizen,
    ReadingAppointment,
    ReadingSlotLoad,
    UseLog,
)
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
from lantai.store.certificates import (
    Certificate,
    CertificateKey,
    CertificateKind,
    CertificateStatus,
)
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
from lantai.store.federation import (
    FederationInbox,
    FederationNode,
    FederationNonce,
    FederationOutbox,
    FederationPartner,
    LivelihoodRequest,
    LivelihoodStep,
)
from lantai.store.ingest import IngestTransfer, IngestUpload, RecordFile, ReviewState, TransferState
from lantai.store.jobs import Job
from lantai.store.oai import HarvestRun, OaiPartner, UnionRecord
from lantai.store.preservation import DestroyedObject, FormatMigration
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
from lantai.store.transcription import AsrItem

__all__ = [
    "COLUMN_KEYS",
    "AccessGrant",
    "AccessRequest",
    "Alert",
    "AsrItem",
    "Backup",
    "BackupVerification",
    "Base",
    "Certificate",
    "CertificateKey",
    "CertificateKind",
    "CertificateStatus",
    "Citizen",
    "CodeCounter",
    "DashboardCursor",
    "DashboardHolding",
    "DashboardPartition",
    "DashboardTransition",
    "Database",
    "DestroyedObject",
    "DisposalBatch",
    "DisposalDecision",
    "DisposalItem",
    "Event",
    "FederationInbox",
    "FederationNode",
    "FederationNonce",
    "FederationOutbox",
    "FederationPartner",
    "FixityRun",
    "FormatMigration",
    "HarvestRun",
    "ImportBatch",
    "IngestTransfer",
    "IngestUpload",
    "Job",
    "LinkingStat",
    "LivelihoodRequest",
    "LivelihoodStep",
    "LoginSession",
    "OaiPartner",
    "PublicationBatch",
    "PublicationDecision",
    "PublicationItem",
    "PublicationState",
    "PublishedRecord",
    "PublishedText",
    "ReadingAppointment",
    "ReadingSlotLoad",
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
    "UnionRecord",
    "UnitOpinion",
    "UseLog",
    "User",
    "UserRole",
    "after_commit",
    "utcnow",
]
