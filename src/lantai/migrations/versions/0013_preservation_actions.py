"""preservation actions

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-21

Issue 4: destruction on every storage location (``destroyed_objects``), format migration
(``format_migrations``), and ``transfers.preserved_at`` (the storage policy is satisfied).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "destroyed_objects",
        sa.Column("id", _PK, nullable=False),
        sa.Column("package_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("batch_uid", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=False),
        sa.Column("approved_at", sa.String(length=40), nullable=False),
        sa.Column("destroyed_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destroyed_objects")),
        sa.UniqueConstraint(
            "package_id", "path", name=op.f("uq_destroyed_objects_package_id_path")
        ),
    )
    op.create_index(
        "ix_destroyed_objects_batch_uid", "destroyed_objects", ["batch_uid"], unique=False
    )
    op.create_table(
        "format_migrations",
        sa.Column("id", _PK, nullable=False),
        sa.Column("record_file_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source_format", sa.String(length=100), nullable=True),
        sa.Column("target_format", sa.String(length=100), nullable=True),
        sa.Column("derivative_package", sa.String(length=64), nullable=True),
        sa.Column("derivative_path", sa.String(length=1000), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("sm3", sa.String(length=64), nullable=True),
        sa.Column("tool", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["record_file_id"],
            ["record_files.id"],
            name=op.f("fk_format_migrations_record_file_id_record_files"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_format_migrations_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_format_migrations")),
        sa.UniqueConstraint(
            "record_file_id", "rule", name=op.f("uq_format_migrations_record_file_id_rule")
        ),
    )
    op.create_index(
        "ix_format_migrations_record_id", "format_migrations", ["record_id"], unique=False
    )
    op.create_index("ix_format_migrations_state", "format_migrations", ["state"], unique=False)
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preserved_at", _TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_column("preserved_at")
    op.drop_index("ix_format_migrations_state", table_name="format_migrations")
    op.drop_index("ix_format_migrations_record_id", table_name="format_migrations")
    op.drop_table("format_migrations")
    op.drop_index("ix_destroyed_objects_batch_uid", table_name="destroyed_objects")
    op.drop_table("destroyed_objects")
