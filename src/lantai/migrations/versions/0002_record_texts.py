"""record texts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 07:00:10.845341

The full texts of records (全文): one row per (record, part), read by the search indexer.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_texts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("part", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_record_texts_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_texts")),
    )
    with op.batch_alter_table("record_texts", schema=None) as batch_op:
        batch_op.create_index("ix_record_texts_record_id_part", ["record_id", "part"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("record_texts", schema=None) as batch_op:
        batch_op.drop_index("ix_record_texts_record_id_part")
    op.drop_table("record_texts")
