"""digitisation

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21

Issue 6 (存量数字化): scan batches and their page images, OCR text per page, access-copy
derivatives, and the 挂接率 statistics.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scan_batches",
        sa.Column("id", _PK, nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("package_id", sa.String(length=64), nullable=False),
        sa.Column("fonds_id", sa.BigInteger(), nullable=True),
        sa.Column("category", sa.String(length=8), nullable=True),
        sa.Column("collection", sa.String(length=100), nullable=True),
        sa.Column("profile", sa.String(length=16), nullable=False),
        sa.Column("process", sa.JSON(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("qc", sa.JSON(), nullable=False),
        sa.Column("linking", sa.JSON(), nullable=False),
        sa.Column("ocr", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["fonds_id"], ["records.id"], name=op.f("fk_scan_batches_fonds_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_batches")),
        sa.UniqueConstraint("uid", name=op.f("uq_scan_batches_uid")),
    )
    op.create_table(
        "scan_pages",
        sa.Column("id", _PK, nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("archival_code", sa.String(length=128), nullable=False),
        sa.Column("page_no", sa.Integer(), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("decodes", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("phash", sa.String(length=64), nullable=True),
        sa.Column("skew", sa.Float(), nullable=True),
        sa.Column("ink", sa.Float(), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("checked", sa.Boolean(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["scan_batches.id"], name=op.f("fk_scan_pages_batch_id_scan_batches")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_scan_pages_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_pages")),
    )
    with op.batch_alter_table("scan_pages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scan_pages_batch_id_archival_code_page_no",
            ["batch_id", "archival_code", "page_no"],
            unique=False,
        )
        batch_op.create_index("ix_scan_pages_record_id", ["record_id"], unique=False)
    op.create_table(
        "scan_page_texts",
        sa.Column("id", _PK, nullable=False),
        sa.Column("page_id", sa.BigInteger(), nullable=False),
        sa.Column("engine", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("low_confidence", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("corrected_text", sa.Text(), nullable=True),
        sa.Column("corrected_by", sa.String(length=64), nullable=True),
        sa.Column("corrected_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"], ["scan_pages.id"], name=op.f("fk_scan_page_texts_page_id_scan_pages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_page_texts")),
        sa.UniqueConstraint("page_id", name=op.f("uq_scan_page_texts_page_id")),
    )
    op.create_table(
        "scan_derivatives",
        sa.Column("id", _PK, nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["scan_batches.id"],
            name=op.f("fk_scan_derivatives_batch_id_scan_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_scan_derivatives_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_derivatives")),
    )
    with op.batch_alter_table("scan_derivatives", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scan_derivatives_record_id_batch_id_kind",
            ["record_id", "batch_id", "kind"],
            unique=True,
        )
    op.create_table(
        "linking_stats",
        sa.Column("id", _PK, nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("linked", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linking_stats")),
    )
    with op.batch_alter_table("linking_stats", schema=None) as batch_op:
        batch_op.create_index("ix_linking_stats_scope_value", ["scope", "value"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("linking_stats", schema=None) as batch_op:
        batch_op.drop_index("ix_linking_stats_scope_value")
    op.drop_table("linking_stats")
    with op.batch_alter_table("scan_derivatives", schema=None) as batch_op:
        batch_op.drop_index("ix_scan_derivatives_record_id_batch_id_kind")
    op.drop_table("scan_derivatives")
    op.drop_table("scan_page_texts")
    with op.batch_alter_table("scan_pages", schema=None) as batch_op:
        batch_op.drop_index("ix_scan_pages_record_id")
        batch_op.drop_index("ix_scan_pages_batch_id_archival_code_page_no")
    op.drop_table("scan_pages")
    op.drop_table("scan_batches")
