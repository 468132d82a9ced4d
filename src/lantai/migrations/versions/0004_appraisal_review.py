"""appraisal review

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Issue 7: open-access review rounds, decisions, joint opinions (filled by the review work):
review_batches, review_items, review_tasks, review_decisions, review_unit_opinions and
record_open_reviews (the applied review date and re-review date per record).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_batches",
        sa.Column("id", _PK, nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("fonds_id", sa.BigInteger(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=8), nullable=True),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=True),
        sa.Column("joint_review", sa.Boolean(), nullable=False),
        sa.Column("rounds", sa.JSON(), nullable=False),
        sa.Column("round_index", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("applied_by", sa.String(length=64), nullable=True),
        sa.Column("applied_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["fonds_id"], ["records.id"], name=op.f("fk_review_batches_fonds_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_batches")),
        sa.UniqueConstraint("uid", name=op.f("uq_review_batches_uid")),
    )
    with op.batch_alter_table("review_batches", schema=None) as batch_op:
        batch_op.create_index("ix_review_batches_state", ["state"], unique=False)

    op.create_table(
        "review_items",
        sa.Column("id", _PK, nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("archival_code", sa.String(length=128), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=8), nullable=True),
        sa.Column("suggestion", sa.String(length=16), nullable=False),
        sa.Column("suggestion_reason", sa.Text(), nullable=False),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("rule_counts", sa.JSON(), nullable=False),
        sa.Column("hits", sa.JSON(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["review_batches.id"],
            name=op.f("fk_review_items_batch_id_review_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_review_items_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint(
            "batch_id", "record_id", name=op.f("uq_review_items_batch_id_record_id")
        ),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_items_batch_id_position", ["batch_id", "position"], unique=False
        )
        batch_op.create_index("ix_review_items_record_id", ["record_id"], unique=False)

    op.create_table(
        "review_tasks",
        sa.Column("id", _PK, nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("round", sa.String(length=32), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("assigned_by", sa.String(length=64), nullable=True),
        sa.Column("assigned_at", _TS, nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("completed_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["review_batches.id"],
            name=op.f("fk_review_tasks_batch_id_review_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_tasks")),
        sa.UniqueConstraint("batch_id", "round", name=op.f("uq_review_tasks_batch_id_round")),
    )

    op.create_table(
        "review_decisions",
        sa.Column("id", _PK, nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("round", sa.String(length=32), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["review_batches.id"],
            name=op.f("fk_review_decisions_batch_id_review_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["review_items.id"], name=op.f("fk_review_decisions_item_id_review_items")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_review_decisions_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_decisions")),
        sa.UniqueConstraint(
            "batch_id",
            "round",
            "record_id",
            name=op.f("uq_review_decisions_batch_id_round_record_id"),
        ),
    )
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_review_decisions_record_id", ["record_id"], unique=False)

    op.create_table(
        "review_unit_opinions",
        sa.Column("id", _PK, nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("opinion", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["review_batches.id"],
            name=op.f("fk_review_unit_opinions_batch_id_review_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_review_unit_opinions_record_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfers.id"],
            name=op.f("fk_review_unit_opinions_transfer_id_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_unit_opinions")),
    )
    with op.batch_alter_table("review_unit_opinions", schema=None) as batch_op:
        batch_op.create_index("ix_review_unit_opinions_record_id", ["record_id"], unique=False)

    op.create_table(
        "record_open_reviews",
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("open_status", sa.String(length=16), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("applied_by", sa.String(length=64), nullable=False),
        sa.Column("applied_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["review_batches.id"],
            name=op.f("fk_record_open_reviews_batch_id_review_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_record_open_reviews_record_id_records")
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_record_open_reviews")),
    )
    with op.batch_alter_table("record_open_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_record_open_reviews_review_due", ["review_due"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("record_open_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_record_open_reviews_review_due")
    op.drop_table("record_open_reviews")
    with op.batch_alter_table("review_unit_opinions", schema=None) as batch_op:
        batch_op.drop_index("ix_review_unit_opinions_record_id")
    op.drop_table("review_unit_opinions")
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_review_decisions_record_id")
    op.drop_table("review_decisions")
    op.drop_table("review_tasks")
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index("ix_review_items_record_id")
        batch_op.drop_index("ix_review_items_batch_id_position")
    op.drop_table("review_items")
    with op.batch_alter_table("review_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_review_batches_state")
    op.drop_table("review_batches")
