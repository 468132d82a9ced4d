"""Alembic migrations (one linear history; see docs/dev/migrations.md)."""
