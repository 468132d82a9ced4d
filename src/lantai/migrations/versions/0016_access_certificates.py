"""access certificates

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-21

Issue 8: an approved 出具证明 / 复制 request is answered by exactly one certificate; the request
keeps its verification code (``access_requests.certificate_code``, unique, a foreign key to
``certificates.code``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("certificate_code", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_access_requests_certificate_code"), ["certificate_code"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_access_requests_certificate_code_certificates"),
            "certificates",
            ["certificate_code"],
            ["code"],
        )


def downgrade() -> None:
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_access_requests_certificate_code_certificates"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_access_requests_certificate_code"), type_="unique")
        batch_op.drop_column("certificate_code")
