"""access request idempotency

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-21

Issue 11: a citizen's application carries an idempotency key (``access_requests.submission_key``,
nullable); a unique index on (user_id, submission_key) keeps one request per key and account, so
a resubmission after a lost answer finds the first request. Requests without a key (NULL) are
unaffected: both SQLite and PostgreSQL treat NULLs as distinct in a unique index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_access_requests_user_id_submission_key",
            ["user_id", "submission_key"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_access_requests_user_id_submission_key")
        batch_op.drop_column("submission_key")
