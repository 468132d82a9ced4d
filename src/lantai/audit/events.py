"""The event vocabulary: ``source:subject:action`` names, each mapped to a PREMIS eventType.

A change that has no member here cannot be logged, so a typo fails in mypy, not in an audit.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PREMIS_EVENT_TYPES", "EventType", "Outcome"]


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


class EventType(StrEnum):
    """Every event the system records. Keep alphabetical within each group."""

    # catalogue
    CATALOGUE_FONDS_CREATED = "catalogue:fonds:created"
    CATALOGUE_RECORD_CREATED = "catalogue:record:created"
    CATALOGUE_RECORD_UPDATED = "catalogue:record:updated"
    CATALOGUE_RECORD_WITHDRAWN = "catalogue:record:withdrawn"
    CATALOGUE_RECORD_RESTORED = "catalogue:record:restored"
    CATALOGUE_RECORD_DESTROYED = "catalogue:record:destroyed"
    CATALOGUE_RECORDS_GENERATED = "catalogue:records:generated"
    CATALOGUE_RECORDS_CREATED = "catalogue:records:created"
    CATALOGUE_IMPORT_COMPLETED = "catalogue:import:completed"
    CATALOGUE_IMPORT_REJECTED = "catalogue:import:rejected"
    CATALOGUE_EXPORT_CREATED = "catalogue:export:created"
    CATALOGUE_TEXT_ADDED = "catalogue:text:added"
    CATALOGUE_TEXTS_ADDED = "catalogue:texts:added"
    CATALOGUE_RECORDS_PUBLISHED = "catalogue:records:published"
    CATALOGUE_RECORDS_UNPUBLISHED = "catalogue:records:unpublished"
    # publication (上网审查): batches, decisions, the exported open catalogue
    PUBLICATION_BATCH_CREATED = "publication:batch:created"
    PUBLICATION_ITEMS_REJECTED = "publication:items:rejected"
    PUBLICATION_CATALOGUE_EXPORTED = "publication:catalogue:exported"
    CATALOGUE_RECORDS_REVIEWED = "catalogue:records:reviewed"
    # open-access review (开放审核): batches, rounds, decisions, unit opinions, results
    APPRAISAL_BATCH_ADVANCED = "appraisal:batch:advanced"
    APPRAISAL_BATCH_APPLIED = "appraisal:batch:applied"
    APPRAISAL_BATCH_CREATED = "appraisal:batch:created"
    APPRAISAL_DECISIONS_RECORDED = "appraisal:decisions:recorded"
    APPRAISAL_LIST_EXPORTED = "appraisal:list:exported"
    APPRAISAL_OPINIONS_RECORDED = "appraisal:opinions:recorded"
    APPRAISAL_TASK_ASSIGNED = "appraisal:task:assigned"
    # ingest (一键归档): one event per step of a transfer, object_type "transfer"
    INGEST_TRANSFER_RECEIVED = "ingest:transfer:received"
    INGEST_TRANSFER_UNPACKED = "ingest:transfer:unpacked"
    INGEST_DIGESTS_CALCULATED = "ingest:digests:calculated"
    INGEST_FORMATS_IDENTIFIED = "ingest:formats:identified"
    INGEST_TRANSFER_CHECKED = "ingest:transfer:checked"
    INGEST_TRANSFER_REJECTED = "ingest:transfer:rejected"
    INGEST_AIP_STORED = "ingest:aip:stored"
    INGEST_TRANSFER_ACCEPTED = "ingest:transfer:accepted"
    INGEST_TRANSFER_REVIEWED = "ingest:transfer:reviewed"
    INGEST_TRANSFER_FAILED = "ingest:transfer:failed"
    # digitisation (存量数字化): scan batches, image QC, 挂接, OCR
    DIGITISATION_BATCH_IMPORTED = "digitisation:batch:imported"
    DIGITISATION_BATCH_CHECKED = "digitisation:batch:checked"
    DIGITISATION_BATCH_LINKED = "digitisation:batch:linked"
    DIGITISATION_OCR_COMPLETED = "digitisation:ocr:completed"
    DIGITISATION_OCR_CORRECTED = "digitisation:ocr:corrected"
    # storage
    STORAGE_PACKAGE_DISCARDED = "storage:package:discarded"
    STORAGE_OBJECTS_DESTROYED = "storage:objects:destroyed"
    STORAGE_DELETE_REFUSED = "storage:delete:refused"
    STORAGE_PACKAGE_REPLICATED = "storage:package:replicated"
    STORAGE_FIXITY_CHECKED = "storage:fixity:checked"
    STORAGE_FIXITY_FAILED = "storage:fixity:failed"
    STORAGE_OBJECT_REPAIRED = "storage:object:repaired"
    STORAGE_OBJECT_UNRECOVERABLE = "storage:object:unrecoverable"
    STORAGE_ALERT_RAISED = "storage:alert:raised"
    STORAGE_ALERT_RESOLVED = "storage:alert:resolved"
    # backup (备份与恢复)
    BACKUP_SET_CREATED = "backup:set:created"
    BACKUP_SET_RESTORED = "backup:set:restored"
    BACKUP_SET_VERIFIED = "backup:set:verified"
    # disposal (到期鉴定与销毁)
    DISPOSAL_BATCH_CREATED = "disposal:batch:created"
    DISPOSAL_BATCH_EXECUTED = "disposal:batch:executed"
    DISPOSAL_ITEM_DECIDED = "disposal:item:decided"
    DISPOSAL_RETENTION_EXTENDED = "disposal:retention:extended"
    # security
    SECURITY_LOGIN_SUCCEEDED = "security:login:succeeded"
    SECURITY_LOGIN_FAILED = "security:login:failed"
    SECURITY_LOGOUT = "security:logout:done"
    SECURITY_USER_CREATED = "security:user:created"
    SECURITY_USER_DISABLED = "security:user:disabled"
    SECURITY_USER_ENABLED = "security:user:enabled"
    SECURITY_PASSWORD_CHANGED = "security:password:changed"
    SECURITY_ROLE_GRANTED = "security:role:granted"
    SECURITY_ROLE_REVOKED = "security:role:revoked"
    SECURITY_CLEARANCE_CHANGED = "security:clearance:changed"
    SECURITY_ACCESS_DENIED = "security:access:denied"
    # audit
    AUDIT_CHAIN_VERIFIED = "audit:chain:verified"
    # system
    SYSTEM_INSTANCE_INITIALISED = "system:instance:initialised"


# PREMIS 3 eventType (id.loc.gov/vocabulary/preservation/eventType) for each event; None for
# events that are access-control records rather than preservation events.
PREMIS_EVENT_TYPES: dict[EventType, str | None] = {
    EventType.CATALOGUE_FONDS_CREATED: "creation",
    EventType.CATALOGUE_RECORD_CREATED: "creation",
    EventType.CATALOGUE_RECORD_UPDATED: "metadata modification",
    EventType.CATALOGUE_RECORD_WITHDRAWN: "deaccession",
    EventType.CATALOGUE_RECORD_RESTORED: "accession",
    EventType.CATALOGUE_RECORD_DESTROYED: "deaccession",
    EventType.CATALOGUE_RECORDS_GENERATED: "creation",
    EventType.CATALOGUE_RECORDS_CREATED: "creation",
    EventType.CATALOGUE_IMPORT_COMPLETED: "ingestion end",
    EventType.CATALOGUE_IMPORT_REJECTED: "validation",
    EventType.CATALOGUE_EXPORT_CREATED: "dissemination",
    EventType.CATALOGUE_TEXT_ADDED: "metadata extraction",
    EventType.CATALOGUE_TEXTS_ADDED: "metadata extraction",
    EventType.CATALOGUE_RECORDS_PUBLISHED: "dissemination",
    EventType.CATALOGUE_RECORDS_UNPUBLISHED: "dissemination",
    EventType.PUBLICATION_BATCH_CREATED: None,
    EventType.PUBLICATION_ITEMS_REJECTED: "appraisal",
    EventType.PUBLICATION_CATALOGUE_EXPORTED: "dissemination",
    EventType.CATALOGUE_RECORDS_REVIEWED: "metadata modification",
    EventType.APPRAISAL_BATCH_ADVANCED: "appraisal",
    EventType.APPRAISAL_BATCH_APPLIED: "appraisal",
    EventType.APPRAISAL_BATCH_CREATED: "appraisal",
    EventType.APPRAISAL_DECISIONS_RECORDED: "appraisal",
    EventType.APPRAISAL_LIST_EXPORTED: "dissemination",
    EventType.APPRAISAL_OPINIONS_RECORDED: "appraisal",
    EventType.APPRAISAL_TASK_ASSIGNED: None,
    EventType.INGEST_TRANSFER_RECEIVED: "ingestion start",
    EventType.INGEST_TRANSFER_UNPACKED: "unpacking",
    EventType.INGEST_DIGESTS_CALCULATED: "message digest calculation",
    EventType.INGEST_FORMATS_IDENTIFIED: "format identification",
    EventType.INGEST_TRANSFER_CHECKED: "validation",
    EventType.INGEST_TRANSFER_REJECTED: "validation",
    EventType.INGEST_AIP_STORED: "information package creation",
    EventType.INGEST_TRANSFER_ACCEPTED: "accession",
    EventType.INGEST_TRANSFER_REVIEWED: "appraisal",
    EventType.INGEST_TRANSFER_FAILED: "ingestion end",
    EventType.DIGITISATION_BATCH_IMPORTED: "ingestion start",
    EventType.DIGITISATION_BATCH_CHECKED: "validation",
    EventType.DIGITISATION_BATCH_LINKED: "metadata modification",
    EventType.DIGITISATION_OCR_COMPLETED: "metadata extraction",
    EventType.DIGITISATION_OCR_CORRECTED: "metadata modification",
    EventType.STORAGE_PACKAGE_DISCARDED: "deletion",
    EventType.STORAGE_OBJECTS_DESTROYED: "deletion",
    EventType.STORAGE_DELETE_REFUSED: None,
    EventType.STORAGE_PACKAGE_REPLICATED: "replication",
    EventType.STORAGE_FIXITY_CHECKED: "fixity check",
    EventType.STORAGE_FIXITY_FAILED: "fixity check",
    EventType.STORAGE_OBJECT_REPAIRED: "replication",
    EventType.STORAGE_OBJECT_UNRECOVERABLE: "fixity check",
    EventType.STORAGE_ALERT_RAISED: None,
    EventType.STORAGE_ALERT_RESOLVED: None,
    EventType.BACKUP_SET_CREATED: "replication",
    EventType.BACKUP_SET_RESTORED: "replication",
    EventType.BACKUP_SET_VERIFIED: "validation",
    EventType.DISPOSAL_BATCH_CREATED: "appraisal",
    EventType.DISPOSAL_BATCH_EXECUTED: "deaccession",
    EventType.DISPOSAL_ITEM_DECIDED: "appraisal",
    EventType.DISPOSAL_RETENTION_EXTENDED: "appraisal",
    EventType.SECURITY_LOGIN_SUCCEEDED: None,
    EventType.SECURITY_LOGIN_FAILED: None,
    EventType.SECURITY_LOGOUT: None,
    EventType.SECURITY_USER_CREATED: None,
    EventType.SECURITY_USER_DISABLED: None,
    EventType.SECURITY_USER_ENABLED: None,
    EventType.SECURITY_PASSWORD_CHANGED: None,
    EventType.SECURITY_ROLE_GRANTED: None,
    EventType.SECURITY_ROLE_REVOKED: None,
    EventType.SECURITY_CLEARANCE_CHANGED: None,
    EventType.SECURITY_ACCESS_DENIED: None,
    EventType.AUDIT_CHAIN_VERIFIED: "fixity check",
    EventType.SYSTEM_INSTANCE_INITIALISED: None,
}
