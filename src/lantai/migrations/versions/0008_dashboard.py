"""dashboard

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21

Issue 10: the maintained holdings summary behind the dashboard and the annual statistics
(``dashboard_holdings``, ``dashboard_partitions``), the follower's cursor and the dated acts it
reads from the event log (``dashboard_transitions``). The summary starts empty with its cursor at
0: the follower fills it from the records on its first run (``lantai stats refresh``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_DIMS = [
    "fonds_id",
    "category",
    "year",
    "unit",
    "lifecycle",
    "open_status",
    "carrier",
    "generation",
    "created_year",
]


def upgrade() -> None:
    op.create_table(
        "dashboard_holdings",
        sa.Column("id", _BIGPK, nullable=False),
        sa.Column("fonds_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=12), nullable=False),
        sa.Column("lifecycle", sa.String(length=12), nullable=False),
        sa.Column("open_status", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.String(length=16), nullable=False),
        sa.Column("created_year", sa.Integer(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("digitised", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.BigInteger(), nullable=False),
        sa.Column("minutes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_holdings")),
    )
    with op.batch_alter_table("dashboard_holdings", schema=None) as batch_op:
        batch_op.create_index("ix_dashboard_holdings_dims", _DIMS, unique=True)
    op.create_table(
        "dashboard_partitions",
        sa.Column("fonds_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("as_of_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "fonds_id", "category", "year", name=op.f("pk_dashboard_partitions")
        ),
    )
    op.create_table(
        "dashboard_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dashboard_cursor")),
    )
    op.create_table(
        "dashboard_transitions",
        sa.Column("id", _BIGPK, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_transitions")),
    )
    with op.batch_alter_table("dashboard_transitions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dashboard_transitions_kind_year_record_id", ["kind", "year", "record_id"]
        )
        batch_op.create_index(
            "ix_dashboard_transitions_seq_record_id_kind", ["seq", "record_id", "kind"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("dashboard_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_transitions_seq_record_id_kind")
        batch_op.drop_index("ix_dashboard_transitions_kind_year_record_id")
    op.drop_table("dashboard_transitions")
    op.drop_table("dashboard_cursor")
    op.drop_table("dashboard_partitions")
    with op.batch_alter_table("dashboard_holdings", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_holdings_dims")
    op.drop_table("dashboard_holdings")
