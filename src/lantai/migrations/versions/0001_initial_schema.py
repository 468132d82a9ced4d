"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 06:11:04.469391

Also installs the triggers that make ``events`` append-only on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_counters",
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("group_key", name=op.f("pk_code_counters")),
    )
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_action", ["action"], unique=False)
        batch_op.create_index("ix_events_actor", ["actor"], unique=False)
        batch_op.create_index(
            "ix_events_object_type_object_id", ["object_type", "object_id"], unique=False
        )

    op.create_table(
        "records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("fonds_id", sa.BigInteger(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=True),
        sa.Column("archival_code", sa.String(length=128), nullable=True),
        sa.Column("code_rule", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("responsible", sa.String(length=1000), nullable=True),
        sa.Column("date", sa.String(length=40), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("retention", sa.String(length=8), nullable=True),
        sa.Column("security_level", sa.String(length=32), nullable=True),
        sa.Column("security_rank", sa.Integer(), nullable=False),
        sa.Column("open_status", sa.String(length=16), nullable=True),
        sa.Column("disclosure", sa.String(length=16), nullable=True),
        sa.Column("doc_number", sa.String(length=200), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("org_code", sa.String(length=32), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("lifecycle", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["fonds_id"], ["records.id"], name=op.f("fk_records_fonds_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["records.id"], name=op.f("fk_records_parent_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
        sa.UniqueConstraint("archival_code", name=op.f("uq_records_archival_code")),
        sa.UniqueConstraint("uid", name=op.f("uq_records_uid")),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_records_fonds_id_category_year", ["fonds_id", "category", "year"], unique=False
        )
        batch_op.create_index("ix_records_level", ["level"], unique=False)
        batch_op.create_index(
            "ix_records_parent_id_position_id", ["parent_id", "position", "id"], unique=False
        )
        batch_op.create_index(
            "ix_records_parent_id_lifecycle_security_rank",
            ["parent_id", "lifecycle", "security_rank"],
            unique=False,
        )

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("clearance", sa.String(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "import_batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=True),
        sa.Column("fonds_id", sa.BigInteger(), nullable=True),
        sa.Column("category", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("imported_count", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fonds_id"], ["records.id"], name=op.f("fk_import_batches_fonds_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
        sa.UniqueConstraint("uid", name=op.f("uq_import_batches_uid")),
    )
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_login_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "record_closure",
        sa.Column("ancestor_id", sa.BigInteger(), nullable=False),
        sa.Column("descendant_id", sa.BigInteger(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ancestor_id"], ["records.id"], name=op.f("fk_record_closure_ancestor_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["descendant_id"], ["records.id"], name=op.f("fk_record_closure_descendant_id_records")
        ),
        sa.PrimaryKeyConstraint("ancestor_id", "descendant_id", name=op.f("pk_record_closure")),
    )
    with op.batch_alter_table("record_closure", schema=None) as batch_op:
        batch_op.create_index(
            "ix_record_closure_descendant_id_depth", ["descendant_id", "depth"], unique=False
        )

    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )
    _append_only_events()


def _append_only_events() -> None:
    """Refuse UPDATE and DELETE on events (and TRUNCATE on PostgreSQL)."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
                "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION lantai_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'events are append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION lantai_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
            "FOR EACH STATEMENT EXECUTE FUNCTION lantai_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_no_change ON events")
        op.execute("DROP TRIGGER IF EXISTS events_no_truncate ON events")
        op.execute("DROP FUNCTION IF EXISTS lantai_events_append_only()")
    op.drop_table("user_roles")
    with op.batch_alter_table("record_closure", schema=None) as batch_op:
        batch_op.drop_index("ix_record_closure_descendant_id_depth")

    op.drop_table("record_closure")
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_user_id"))

    op.drop_table("login_sessions")
    op.drop_table("import_batches")
    op.drop_table("users")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_parent_id_lifecycle_security_rank")
        batch_op.drop_index("ix_records_parent_id_position_id")
        batch_op.drop_index("ix_records_level")
        batch_op.drop_index("ix_records_fonds_id_category_year")

    op.drop_table("records")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_object_type_object_id")
        batch_op.drop_index("ix_events_actor")
        batch_op.drop_index("ix_events_action")

    op.drop_table("events")
    op.drop_table("code_counters")
