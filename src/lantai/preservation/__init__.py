"""Preservation actions: format migration to long-term formats (格式迁移), policy as data."""

from lantai.preservation.migrate import MigrationSummary, list_migrations, migrate
from lantai.preservation.policy import MigrationPolicy, load_migration_policy

__all__ = [
    "MigrationPolicy",
    "MigrationSummary",
    "list_migrations",
    "load_migration_policy",
    "migrate",
]
