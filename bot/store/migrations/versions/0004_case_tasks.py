"""Case tasks: manual tasks with an owner and a due date (platform report, police, care...).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``case_tasks``."""
    op.create_table(
        "case_tasks",
        sa.Column("incident_id", sa.String(20), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_case_tasks_open_due", "case_tasks", ["done_at", "due"])


def downgrade() -> None:
    """Drop ``case_tasks``."""
    op.drop_index("ix_case_tasks_open_due", table_name="case_tasks")
    op.drop_table("case_tasks")
