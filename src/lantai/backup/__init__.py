"""Backup and restore of an instance (catalogue database, configuration, secrets, optionally the
preserved packages), the backup ledger and the restorability test (DA/T 70 BC-3-4)."""

from lantai.backup.create import create_backup
from lantai.backup.manifest import BackupDamaged, read_manifest
from lantai.backup.restore import RestoreReport, restore_backup
from lantai.backup.verify import JOB_KIND, find_backup, verify_backup

__all__ = [
    "JOB_KIND",
    "BackupDamaged",
    "RestoreReport",
    "create_backup",
    "find_backup",
    "read_manifest",
    "restore_backup",
    "verify_backup",
]
