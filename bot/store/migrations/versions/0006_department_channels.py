"""Departments' managers' channels in their own table (they were registry records).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``department_channels`` and move the registry's ``channel`` records into it."""
    op.create_table(
        "department_channels",
        sa.Column("department", sa.String(200), primary_key=True),
        sa.Column("channel_id", sa.String(200), nullable=False),
        sa.Column("service_url", sa.String(500), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("registered_by", sa.String(64), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT key, value, updated_at FROM registry WHERE kind = 'channel'")
    ).all()
    for key, value, updated_at in rows:
        record = json.loads(value)
        at = record.get("at")
        bind.execute(
            sa.text(
                "INSERT INTO department_channels (department, channel_id, service_url,"
                " tenant_id, registered_by, registered_at) VALUES (:d, :c, :s, :t, :b, :a)"
            ),
            {
                "d": key,
                "c": record["channel_id"],
                "s": record.get("service_url", ""),
                "t": record.get("tenant_id", ""),
                "b": record.get("by", ""),
                "a": dt.datetime.fromisoformat(at) if at else updated_at,
            },
        )
    bind.execute(sa.text("DELETE FROM registry WHERE kind = 'channel'"))


def downgrade() -> None:
    """Drop ``department_channels`` (channels are not moved back: development only)."""
    op.drop_table("department_channels")
