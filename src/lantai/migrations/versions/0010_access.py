"""access

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21

Issue 8: public portal accounts, use requests, reading-room appointments, 利用登记 (filled by the access work).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "citizens",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("real_name", sa.String(length=100), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("id_masked", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("user_type", sa.String(length=8), nullable=False),
        sa.Column("unit_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        _fk("citizens", "user_id", "users"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_citizens")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_citizens_id_hash")),
    )
    op.create_table(
        "access_requests",
        sa.Column("id", _PK, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("user_type", sa.String(length=8), nullable=False),
        sa.Column("unit_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("archival_codes", sa.JSON(), nullable=False),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("pages", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", _TS, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_ids", sa.JSON(), nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        _fk("access_requests", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    with op.batch_alter_table("access_requests", schema=None) as b:
        b.create_index("ix_access_requests_user_id", ["user_id"], unique=False)
        b.create_index(
            "ix_access_requests_status_created_at", ["status", "created_at"], unique=False
        )
    op.create_table(
        "access_grants",
        sa.Column("id", _PK, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        _fk("access_grants", "request_id", "access_requests"),
        _fk("access_grants", "user_id", "users"),
        _fk("access_grants", "record_id", "records"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grants")),
    )
    with op.batch_alter_table("access_grants", schema=None) as b:
        b.create_index("ix_access_grants_user_id_record_id", ["user_id", "record_id"], unique=False)
    op.create_table(
        "reading_slot_loads",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "slot", name=op.f("pk_reading_slot_loads")),
    )
    op.create_table(
        "reading_appointments",
        sa.Column("id", _PK, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        _fk("reading_appointments", "user_id", "users"),
        _fk("reading_appointments", "request_id", "access_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reading_appointments")),
    )
    with op.batch_alter_table("reading_appointments", schema=None) as b:
        b.create_index("ix_reading_appointments_day_slot", ["day", "slot"], unique=False)
        b.create_index("ix_reading_appointments_user_id", ["user_id"], unique=False)
    op.create_table(
        "use_log",
        sa.Column("id", _PK, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("person", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("user_type", sa.String(length=8), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        _fk("use_log", "user_id", "users"),
        _fk("use_log", "record_id", "records"),
        _fk("use_log", "request_id", "access_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_use_log")),
    )
    with op.batch_alter_table("use_log", schema=None) as b:
        b.create_index("ix_use_log_day", ["day"], unique=False)
        b.create_index(
            "ix_use_log_person_day_record_id_kind",
            ["person", "day", "record_id", "kind"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("use_log", schema=None) as b:
        b.drop_index("ix_use_log_person_day_record_id_kind")
        b.drop_index("ix_use_log_day")
    op.drop_table("use_log")
    with op.batch_alter_table("reading_appointments", schema=None) as b:
        b.drop_index("ix_reading_appointments_user_id")
        b.drop_index("ix_reading_appointments_day_slot")
    op.drop_table("reading_appointments")
    op.drop_table("reading_slot_loads")
    with op.batch_alter_table("access_grants", schema=None) as b:
        b.drop_index("ix_access_grants_user_id_record_id")
    op.drop_table("access_grants")
    with op.batch_alter_table("access_requests", schema=None) as b:
        b.drop_index("ix_access_requests_status_created_at")
        b.drop_index("ix_access_requests_user_id")
    op.drop_table("access_requests")
    op.drop_table("citizens")
