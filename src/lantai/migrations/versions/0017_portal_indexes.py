"""portal indexes

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-21

Reserved for indexes of the public portal's queries. Measured at 1,000,000 records (bench/portal.py)
none was missing: record pages, hits and the masked values are read by primary key or existing
indexes once the public rule tests publication with a correlated EXISTS (search/permissions.py);
the cost was SQLite materialising every published id per statement, not a missing index. So this
revision changes nothing and only keeps the revision chain.
"""

from __future__ import annotations

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
