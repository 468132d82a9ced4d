"""dashboard more

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-21

Issue 10: the holdings summary also counts scanned page images (存量数字化): ``scanned`` (records
with at least one linked scan page) and ``frames`` (linked scan pages, 画幅); and it is split by
the year a record was published on the portal (``published_year``, 0 = not published; a new
dimension, so the unique index of the dimensions is rebuilt). The cursor is reset so that the next
``catch_up`` rebuilds the summary.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_NEW = (("scanned", sa.BigInteger()), ("frames", sa.BigInteger()))
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
    # The summary is recomputed from the records on the next catch_up: empty it first.
    op.execute("DELETE FROM dashboard_holdings")
    op.execute("DELETE FROM dashboard_partitions")
    op.execute("DELETE FROM dashboard_cursor")
    with op.batch_alter_table("dashboard_holdings", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_holdings_dims")
        for name, type_ in _NEW:
            batch_op.add_column(sa.Column(name, type_, nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("published_year", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("dashboard_holdings", schema=None) as batch_op:
        for name, _type in _NEW:
            batch_op.alter_column(name, server_default=None)
        batch_op.alter_column("published_year", server_default=None)
        batch_op.create_index("ix_dashboard_holdings_dims", [*_DIMS, "published_year"], unique=True)


def downgrade() -> None:
    op.execute("DELETE FROM dashboard_holdings")
    op.execute("DELETE FROM dashboard_partitions")
    op.execute("DELETE FROM dashboard_cursor")
    with op.batch_alter_table("dashboard_holdings", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_holdings_dims")
        batch_op.drop_column("published_year")
        for name, _type in reversed(_NEW):
            batch_op.drop_column(name)
    with op.batch_alter_table("dashboard_holdings", schema=None) as batch_op:
        batch_op.create_index("ix_dashboard_holdings_dims", _DIMS, unique=True)
