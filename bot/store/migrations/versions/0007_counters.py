"""Atomic counters (the organisation mails' daily reference number) in their own table.

They were registry records read and rewritten by each process, so two instances (or two
managers at once) could hand out the same reference. ``counters`` is incremented in one
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``counters`` and move the registry's ``org-mail-ref`` records into it."""
    op.create_table(
        "counters",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT key, value FROM registry WHERE kind = 'org-mail-ref'")
    ).all()
    for key, value in rows:
        bind.execute(
            sa.text("INSERT INTO counters (kind, key, value) VALUES ('org-mail-ref', :k, :v)"),
            {"k": key, "v": int(json.loads(value).get("n", 0))},
        )
    bind.execute(sa.text("DELETE FROM registry WHERE kind = 'org-mail-ref'"))


def downgrade() -> None:
    """Drop ``counters`` (values are not moved back: development only)."""
    op.drop_table("counters")
