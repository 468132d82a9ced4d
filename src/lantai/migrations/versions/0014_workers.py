"""workers

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-21

Issue 6: distributed workers (no schema change: the ``jobs`` table serves both backends; the new
state ``cancelled`` fits its column) and speech transcription (``asr_items``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "asr_items",
        sa.Column("id", _PK, nullable=False),
        sa.Column("record_file_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("engine", sa.String(length=32), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["record_file_id"],
            ["record_files.id"],
            name=op.f("fk_asr_items_record_file_id_record_files"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_asr_items_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asr_items")),
        sa.UniqueConstraint("record_file_id", name=op.f("uq_asr_items_record_file_id")),
    )
    op.create_index("ix_asr_items_record_id", "asr_items", ["record_id"])
    op.create_index("ix_asr_items_state", "asr_items", ["state"])


def downgrade() -> None:
    op.drop_index("ix_asr_items_state", table_name="asr_items")
    op.drop_index("ix_asr_items_record_id", table_name="asr_items")
    op.drop_table("asr_items")
