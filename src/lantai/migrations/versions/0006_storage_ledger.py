"""storage ledger

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

Issue 4: storage locations, replica ledger, fixity audits, alerts (filled by the storage work).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "storage_copies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("package_id", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("package_digest", sa.String(length=64), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("copied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verify_result", sa.String(length=16), nullable=True),
        sa.Column("verify_detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_copies")),
        sa.UniqueConstraint(
            "package_id", "location", name=op.f("uq_storage_copies_package_id_location")
        ),
    )
    with op.batch_alter_table("storage_copies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_storage_copies_location_state", ["location", "state"], unique=False
        )

    op.create_table(
        "fixity_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("location", sa.String(length=32), nullable=False),
        sa.Column("package_id", sa.String(length=64), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("packages", sa.Integer(), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("repaired", sa.Integer(), nullable=False),
        sa.Column("unrecoverable", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fixity_runs")),
    )
    with op.batch_alter_table("fixity_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fixity_runs_location_started_at", ["location", "started_at"], unique=False
        )

    op.create_table(
        "alerts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("severity", sa.String(length=12), nullable=False),
        sa.Column("location", sa.String(length=32), nullable=True),
        sa.Column("package_id", sa.String(length=64), nullable=True),
        sa.Column("object_key", sa.String(length=1000), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_resolved_at_created_at", ["resolved_at", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_alerts_kind_location_package_id", ["kind", "location", "package_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_kind_location_package_id")
        batch_op.drop_index("ix_alerts_resolved_at_created_at")
    op.drop_table("alerts")
    with op.batch_alter_table("fixity_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_fixity_runs_location_started_at")
    op.drop_table("fixity_runs")
    with op.batch_alter_table("storage_copies", schema=None) as batch_op:
        batch_op.drop_index("ix_storage_copies_location_state")
    op.drop_table("storage_copies")
