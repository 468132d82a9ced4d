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
    DIGITISATION_ASR_COMPLETED = "digitisation:asr:completed"
    # background jobs (作业): retried or cancelled by a person
    JOB_RETRIED = "system:job:retried"
    JOB_CANCELLED = "system:job:cancelled"
    # storage
    STORAGE_PACKAGE_DISCARDED = "storage:package:discarded"
    STORAGE_OBJECTS_DESTROYED = "storage:objects:destroyed"
    STORAGE_DELETE_REFUSED = "storage:delete:refused"
    STORAGE_PACKAGE_REPLICATED = "storage:package:replicated"
    STORAGE_FIXITY_CHECKED = "storage:fixity:checked"
    STORAGE_FIXITY_FAILED = "storage:fixity:failed"
    STORAGE_OBJECT_REPAIRED = "storage:object:repaired"
    STORAGE_OBJECT_UNRECOVERABLE = "storage:object:unrecoverable"
    PRESERVATION_FORMAT_MIGRATED = "preservation:format:migrated"
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
    # access (档案利用): citizens, requests, reading-room appointments, recorded uses
    ACCESS_APPOINTMENT_BOOKED = "access:appointment:booked"
    ACCESS_APPOINTMENT_CANCELLED = "access:appointment:cancelled"
    ACCESS_CITIZEN_REGISTERED = "access:citizen:registered"
    ACCESS_REQUEST_APPROVED = "access:request:approved"
    ACCESS_REQUEST_REFUSED = "access:request:refused"
    ACCESS_REQUEST_SUBMITTED = "access:request:submitted"
    ACCESS_USE_RECORDED = "access:use:recorded"
    # certificates (档案证明、档案复制件证明) and their signing keys
    CERTIFICATE_ISSUED = "certificate:document:issued"
    CERTIFICATE_KEY_CREATED = "certificate:key:created"
    CERTIFICATE_KEY_RETIRED = "certificate:key:retired"
    CERTIFICATE_KEY_TRUSTED = "certificate:key:trusted"
    CERTIFICATE_REVOKED = "certificate:document:revoked"
    # federation (跨馆协作): the node, its partners, signed messages between nodes
    FEDERATION_MESSAGE_REFUSED = "federation:message:refused"
    FEDERATION_MESSAGE_REJECTED = "federation:message:rejected"
    FEDERATION_NODE_CONFIGURED = "federation:node:configured"
    FEDERATION_PARTNER_ADDED = "federation:partner:added"
    FEDERATION_PARTNER_UPDATED = "federation:partner:updated"
    # livelihood records (民生档案跨馆查档): one event per step, at both ends
    LIVELIHOOD_REQUEST_COLLECTED = "livelihood:request:collected"
    LIVELIHOOD_REQUEST_FORWARDED = "livelihood:request:forwarded"
    LIVELIHOOD_REQUEST_ISSUED = "livelihood:request:issued"
    LIVELIHOOD_REQUEST_NOT_FOUND = "livelihood:request:not_found"
    LIVELIHOOD_REQUEST_NOTIFIED = "livelihood:request:notified"
    LIVELIHOOD_REQUEST_RECEIVED = "livelihood:request:received"
    LIVELIHOOD_REQUEST_REFUSED = "livelihood:request:refused"
    LIVELIHOOD_REQUEST_SUBMITTED = "livelihood:request:submitted"
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
    EventType.DIGITISATION_ASR_COMPLETED: "metadata extraction",
    EventType.JOB_RETRIED: None,
    EventType.JOB_CANCELLED: None,
    EventType.STORAGE_PACKAGE_DISCARDED: "deletion",
    EventType.STORAGE_OBJECTS_DESTROYED: "deletion",
    EventType.STORAGE_DELETE_REFUSED: None,
    EventType.STORAGE_PACKAGE_REPLICATED: "replication",
    EventType.STORAGE_FIXITY_CHECKED: "fixity check",
    EventType.STORAGE_FIXITY_FAILED: "fixity check",
    EventType.STORAGE_OBJECT_REPAIRED: "replication",
    EventType.STORAGE_OBJECT_UNRECOVERABLE: "fixity check",
    EventType.PRESERVATION_FORMAT_MIGRATED: "migration",
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
    EventType.ACCESS_APPOINTMENT_BOOKED: None,
    EventType.ACCESS_APPOINTMENT_CANCELLED: None,
    EventType.ACCESS_CITIZEN_REGISTERED: None,
    EventType.ACCESS_REQUEST_APPROVED: None,
    EventType.ACCESS_REQUEST_REFUSED: None,
    EventType.ACCESS_REQUEST_SUBMITTED: None,
    EventType.ACCESS_USE_RECORDED: "dissemination",
    EventType.CERTIFICATE_ISSUED: "dissemination",
    EventType.CERTIFICATE_KEY_CREATED: None,
    EventType.CERTIFICATE_KEY_RETIRED: None,
    EventType.CERTIFICATE_KEY_TRUSTED: None,
    EventType.CERTIFICATE_REVOKED: None,
    EventType.FEDERATION_MESSAGE_REFUSED: None,
    EventType.FEDERATION_MESSAGE_REJECTED: None,
    EventType.FEDERATION_NODE_CONFIGURED: None,
    EventType.FEDERATION_PARTNER_ADDED: None,
    EventType.FEDERATION_PARTNER_UPDATED: None,
    EventType.LIVELIHOOD_REQUEST_COLLECTED: "dissemination",
    EventType.LIVELIHOOD_REQUEST_FORWARDED: None,
    EventType.LIVELIHOOD_REQUEST_ISSUED: None,
    EventType.LIVELIHOOD_REQUEST_NOT_FOUND: None,
    EventType.LIVELIHOOD_REQUEST_NOTIFIED: None,
    EventType.LIVELIHOOD_REQUEST_RECEIVED: None,
    EventType.LIVELIHOOD_REQUEST_REFUSED: None,
    EventType.LIVELIHOOD_REQUEST_SUBMITTED: None,
    EventType.AUDIT_CHAIN_VERIFIED: "fixity check",
    EventType.SYSTEM_INSTANCE_INITIALISED: None,
}
