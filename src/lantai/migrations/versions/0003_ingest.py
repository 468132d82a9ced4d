"""ingest

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 07:02:34.678367

Issue 3 (一键归档): persistent jobs, transfers with their state machine, resumable uploads, and
the preserved files of catalogued records (record_files).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("key", name=op.f("uq_jobs_key")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_state_run_after", ["state", "run_after"], unique=False)

    op.create_table(
        "transfers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("source_name", sa.String(length=500), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("source_owned", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=2), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("fonds_code", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("review", sa.String(length=12), nullable=False),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declared_items", sa.BigInteger(), nullable=True),
        sa.Column("declared_bytes", sa.BigInteger(), nullable=True),
        sa.Column("actual_items", sa.BigInteger(), nullable=True),
        sa.Column("actual_files", sa.BigInteger(), nullable=True),
        sa.Column("actual_bytes", sa.BigInteger(), nullable=True),
        sa.Column("package_size", sa.BigInteger(), nullable=True),
        sa.Column("package_sha256", sa.String(length=64), nullable=True),
        sa.Column("package_sm3", sa.String(length=64), nullable=True),
        sa.Column("register", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("report_key", sa.String(length=300), nullable=True),
        sa.Column("aip_id", sa.String(length=64), nullable=True),
        sa.Column("fonds_id", sa.BigInteger(), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["fonds_id"], ["records.id"], name=op.f("fk_transfers_fonds_id_records")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_transfers_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint(
            "created_by", "idempotency_key", name=op.f("uq_transfers_created_by_idempotency_key")
        ),
        sa.UniqueConstraint("uid", name=op.f("uq_transfers_uid")),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index("ix_transfers_state", ["state"], unique=False)

    op.create_table(
        "record_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.BigInteger(), nullable=False),
        sa.Column("aip_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("puid", sa.String(length=64), nullable=True),
        sa.Column("format_name", sa.String(length=200), nullable=True),
        sa.Column("mime", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_record_files_record_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_record_files_transfer_id_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_files")),
    )
    with op.batch_alter_table("record_files", schema=None) as batch_op:
        batch_op.create_index("ix_record_files_record_id", ["record_id"], unique=False)
        batch_op.create_index("ix_record_files_transfer_id", ["transfer_id"], unique=False)

    op.create_table(
        "uploads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("declared_size", sa.BigInteger(), nullable=False),
        sa.Column("declared_sha256", sa.String(length=64), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("fonds_code", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=8), nullable=True),
        sa.Column("stage", sa.String(length=2), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=True),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_uploads_transfer_id_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
        sa.UniqueConstraint(
            "created_by", "idempotency_key", name=op.f("uq_uploads_created_by_idempotency_key")
        ),
        sa.UniqueConstraint("uid", name=op.f("uq_uploads_uid")),
    )


def downgrade() -> None:
    op.drop_table("uploads")
    with op.batch_alter_table("record_files", schema=None) as batch_op:
        batch_op.drop_index("ix_record_files_transfer_id")
        batch_op.drop_index("ix_record_files_record_id")

    op.drop_table("record_files")
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_transfers_state")

    op.drop_table("transfers")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_state_run_after")

    op.drop_table("jobs")
