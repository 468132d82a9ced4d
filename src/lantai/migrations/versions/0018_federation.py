"""federation

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-22

Issue 9: archive nodes (identity, partner registry), signed messages (outbox, inbox, nonces) and
the cross-archive livelihood-record service (跨馆查档出证: requests and their steps).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "federation_node",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("archive_code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_node")),
    )
    op.create_table(
        "federation_partners",
        sa.Column("id", _PK, nullable=False),
        sa.Column("archive_code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("key_ids", sa.JSON(), nullable=False),
        sa.Column("offered_keys", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("oai_partner_id", sa.BigInteger(), nullable=True),
        sa.Column("last_seen_at", _TS, nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["oai_partner_id"],
            ["oai_partners.id"],
            name=op.f("fk_federation_partners_oai_partner_id_oai_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_partners")),
        sa.UniqueConstraint("archive_code", name=op.f("uq_federation_partners_archive_code")),
    )
    op.create_table(
        "federation_outbox",
        sa.Column("id", _PK, nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_federation_outbox_message_id")),
    )
    op.create_index(
        "ix_federation_outbox_state_next",
        "federation_outbox",
        ["state", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_federation_outbox_recipient_id", "federation_outbox", ["recipient", "id"], unique=False
    )
    op.create_table(
        "federation_inbox",
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("body_digest", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_federation_inbox")),
    )
    op.create_table(
        "federation_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_federation_nonces")),
    )
    op.create_index("ix_federation_nonces_seen_at", "federation_nonces", ["seen_at"], unique=False)
    op.create_table(
        "livelihood_requests",
        sa.Column("id", _PK, nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("accepting_code", sa.String(length=16), nullable=False),
        sa.Column("holding_code", sa.String(length=16), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("applicant_id", sa.String(length=32), nullable=False),
        sa.Column("applicant_id_masked", sa.String(length=32), nullable=False),
        sa.Column("applicant_phone", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("citizen_user_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_side", sa.String(length=10), nullable=True),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("result_note", sa.Text(), nullable=False),
        sa.Column("certificate_code", sa.String(length=16), nullable=True),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=True),
        sa.Column("certificate_pdf", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_user_id"],
            ["users.id"],
            name=op.f("fk_livelihood_requests_citizen_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_livelihood_requests")),
        sa.UniqueConstraint("ref", name=op.f("uq_livelihood_requests_ref")),
    )
    op.create_index(
        "ix_livelihood_requests_side_state",
        "livelihood_requests",
        ["side", "state"],
        unique=False,
    )
    op.create_index(
        "ix_livelihood_requests_citizen", "livelihood_requests", ["citizen_user_id"], unique=False
    )
    op.create_table(
        "livelihood_steps",
        sa.Column("id", _PK, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("node", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["livelihood_requests.id"],
            name=op.f("fk_livelihood_steps_request_id_livelihood_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_livelihood_steps")),
    )
    op.create_index(
        "ix_livelihood_steps_request_id", "livelihood_steps", ["request_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_livelihood_steps_request_id", table_name="livelihood_steps")
    op.drop_table("livelihood_steps")
    op.drop_index("ix_livelihood_requests_citizen", table_name="livelihood_requests")
    op.drop_index("ix_livelihood_requests_side_state", table_name="livelihood_requests")
    op.drop_table("livelihood_requests")
    op.drop_index("ix_federation_nonces_seen_at", table_name="federation_nonces")
    op.drop_table("federation_nonces")
    op.drop_table("federation_inbox")
    op.drop_index("ix_federation_outbox_recipient_id", table_name="federation_outbox")
    op.drop_index("ix_federation_outbox_state_next", table_name="federation_outbox")
    op.drop_table("federation_outbox")
    op.drop_table("federation_partners")
    op.drop_table("federation_node")
