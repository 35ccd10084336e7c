"""Two organisational cases merged: org_case_merges (where an emptied one's members went).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``org_case_merges`` (insert-only: one row per organisational case emptied)."""
    op.create_table(
        "org_case_merges",
        sa.Column("from_org", sa.String(40), sa.ForeignKey("org_cases.id"), primary_key=True),
        sa.Column("into_org", sa.String(40), sa.ForeignKey("org_cases.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.String(64), nullable=False),
        sa.Column("by_name", sa.String(200), nullable=False),
        sa.Column("moved", sa.Text, nullable=False),
    )
    op.create_index("ix_org_case_merges_into_org", "org_case_merges", ["into_org"])


def downgrade() -> None:
    """Drop the table (development only)."""
    op.drop_index("ix_org_case_merges_into_org", table_name="org_case_merges")
    op.drop_table("org_case_merges")
