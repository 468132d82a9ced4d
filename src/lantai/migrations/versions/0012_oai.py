"""oai

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21

Issue 9: OAI-PMH harvesting and the union catalogue (partners, harvest runs, union records), and
the (datestamp, record_id) keyset index the OAI-PMH provider pages published records on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oai_partners",
        sa.Column("id", _PK, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("archive_code", sa.String(length=16), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("set_spec", sa.String(length=200), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oai_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_oai_partners_name")),
    )
    op.create_table(
        "oai_harvests",
        sa.Column("id", _PK, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("set_spec", sa.String(length=200), nullable=True),
        sa.Column("from_date", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("last_datestamp", sa.String(length=32), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oai_harvests")),
    )
    op.create_index(
        "ix_oai_harvests_source_started", "oai_harvests", ["source", "started_at"], unique=False
    )
    op.create_table(
        "union_records",
        sa.Column("id", _PK, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("identifier", sa.String(length=500), nullable=False),
        sa.Column("datestamp", sa.String(length=32), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("set_specs", sa.JSON(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("dc", sa.JSON(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("raw_xml", sa.Text(), nullable=False),
        sa.Column("harvest_id", sa.BigInteger(), nullable=True),
        sa.Column("harvested_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_union_records")),
        sa.UniqueConstraint(
            "source", "identifier", name=op.f("uq_union_records_source_identifier")
        ),
    )
    op.create_index(
        "ix_union_records_source_datestamp",
        "union_records",
        ["source", "datestamp"],
        unique=False,
    )
    op.create_index(
        "ix_published_records_datestamp_id",
        "published_records",
        ["datestamp", "record_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_published_records_datestamp_id", table_name="published_records")
    op.drop_index("ix_union_records_source_datestamp", table_name="union_records")
    op.drop_table("union_records")
    op.drop_index("ix_oai_harvests_source_started", table_name="oai_harvests")
    op.drop_table("oai_harvests")
    op.drop_table("oai_partners")
