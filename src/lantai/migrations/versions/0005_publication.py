"""publication

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

Issue 7: publication (上网审查) decisions and the published open catalogue: batches, items with
their decisions, the published records with their masked public values, and masked full texts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "publication_batches",
        sa.Column("id", _PK, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("fonds_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fonds_id"], ["records.id"], name=op.f("fk_publication_batches_fonds_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication_batches")),
    )
    op.create_table(
        "publication_items",
        sa.Column("id", _PK, nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(length=12), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("masked_spans", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["publication_batches.id"],
            name=op.f("fk_publication_items_batch_id_publication_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_publication_items_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication_items")),
        sa.UniqueConstraint(
            "batch_id", "record_id", name=op.f("uq_publication_items_batch_id_record_id")
        ),
    )
    with op.batch_alter_table("publication_items", schema=None) as batch_op:
        batch_op.create_index("ix_publication_items_record_id", ["record_id"], unique=False)
    op.create_table(
        "published_records",
        sa.Column("record_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("unpublished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unpublished_by", sa.String(length=64), nullable=True),
        sa.Column("unpublish_reason", sa.Text(), nullable=False),
        sa.Column("datestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("responsible", sa.String(length=1000), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("masked_spans", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["publication_batches.id"],
            name=op.f("fk_published_records_batch_id_publication_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_published_records_record_id_records")
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_published_records")),
    )
    with op.batch_alter_table("published_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_published_records_state_datestamp", ["state", "datestamp"], unique=False
        )
    op.create_table(
        "published_texts",
        sa.Column("id", _PK, nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("part", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["published_records.record_id"],
            name=op.f("fk_published_texts_record_id_published_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_texts")),
        sa.UniqueConstraint("record_id", "part", name=op.f("uq_published_texts_record_id_part")),
    )


def downgrade() -> None:
    op.drop_table("published_texts")
    with op.batch_alter_table("published_records", schema=None) as batch_op:
        batch_op.drop_index("ix_published_records_state_datestamp")
    op.drop_table("published_records")
    with op.batch_alter_table("publication_items", schema=None) as batch_op:
        batch_op.drop_index("ix_publication_items_record_id")
    op.drop_table("publication_items")
    op.drop_table("publication_batches")
