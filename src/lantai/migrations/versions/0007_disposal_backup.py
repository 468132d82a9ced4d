"""disposal backup

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21

Issue 4: backups and disposal (到期鉴定/销毁): the backup ledger and its restorability tests;
disposal batches, items and the decision of every review round.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", _PK, nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("database", sa.String(length=16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("with_content", sa.Boolean(), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("verified_at", _TS, nullable=True),
        sa.Column("verified_ok", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backups")),
        sa.UniqueConstraint("uid", name=op.f("uq_backups_uid")),
    )
    op.create_table(
        "backup_verifications",
        sa.Column("id", _PK, nullable=False),
        sa.Column("backup_id", sa.BigInteger(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("verified_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["backup_id"],
            ["backups.id"],
            name=op.f("fk_backup_verifications_backup_id_backups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_verifications")),
    )
    with op.batch_alter_table("backup_verifications", schema=None) as batch_op:
        batch_op.create_index("ix_backup_verifications_backup_id", ["backup_id"], unique=False)

    op.create_table(
        "disposal_batches",
        sa.Column("id", _PK, nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("as_of", sa.String(length=10), nullable=False),
        sa.Column("rounds", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("executed_by", sa.String(length=64), nullable=True),
        sa.Column("executed_at", _TS, nullable=True),
        sa.Column("register_package", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposal_batches")),
        sa.UniqueConstraint("uid", name=op.f("uq_disposal_batches_uid")),
    )
    op.create_table(
        "disposal_items",
        sa.Column("id", _PK, nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("archival_code", sa.String(length=128), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("retention", sa.String(length=8), nullable=False),
        sa.Column("formation_year", sa.Integer(), nullable=False),
        sa.Column("expiry_year", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("new_retention", sa.String(length=8), nullable=True),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("done_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["disposal_batches.id"],
            name=op.f("fk_disposal_items_batch_id_disposal_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_disposal_items_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposal_items")),
        sa.UniqueConstraint(
            "batch_id", "record_id", name=op.f("uq_disposal_items_batch_id_record_id")
        ),
    )
    with op.batch_alter_table("disposal_items", schema=None) as batch_op:
        batch_op.create_index("ix_disposal_items_record_id", ["record_id"], unique=False)
    op.create_table(
        "disposal_decisions",
        sa.Column("id", _PK, nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("new_retention", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["disposal_items.id"],
            name=op.f("fk_disposal_decisions_item_id_disposal_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposal_decisions")),
        sa.UniqueConstraint("item_id", "round", name=op.f("uq_disposal_decisions_item_id_round")),
    )


def downgrade() -> None:
    op.drop_table("disposal_decisions")
    with op.batch_alter_table("disposal_items", schema=None) as batch_op:
        batch_op.drop_index("ix_disposal_items_record_id")
    op.drop_table("disposal_items")
    op.drop_table("disposal_batches")
    with op.batch_alter_table("backup_verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_backup_verifications_backup_id")
    op.drop_table("backup_verifications")
    op.drop_table("backups")
