"""The notice outbox: staff notices stored before they are sent, never lost.

``notice_outbox``: one row per notice key. Until now a notice was an at-most-once
marker in ``job_once_keys`` taken before the send, so a process killed in between lost
it. The markers of notices already given (``notice:…``) move here as delivered rows
(outcome ``sent``, no cards), so no case hears its news again after the upgrade.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``notice_outbox`` and move the notice markers into it as delivered."""
    op.create_table(
        "notice_outbox",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("incident_id", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("cards", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
    )
    op.create_index("ix_notice_outbox_incident_id", "notice_outbox", ["incident_id"])
    op.create_index("ix_notice_outbox_due", "notice_outbox", ["outcome", "lease_until"])
    bind = op.get_bind()
    markers = sa.table(
        "job_once_keys",
        sa.column("key", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.select(markers.c.key, markers.c.created_at).where(markers.c.key.like("notice:%"))
    ).all()
    when = sa.DateTime(timezone=True)
    outbox = sa.table(
        "notice_outbox",
        sa.column("key", sa.String),
        sa.column("incident_id", sa.String),
        sa.column("recipient", sa.String),
        sa.column("cards", sa.Text),
        sa.column("attempts", sa.Integer),
        sa.column("created_at", when),
        sa.column("sent_at", when),
        sa.column("outcome", sa.String),
    )
    if rows:
        op.bulk_insert(
            outbox,
            [
                {
                    "key": key,
                    "incident_id": key.split(":")[1][:20],
                    "recipient": "",
                    "cards": "{}",
                    "attempts": 1,
                    "created_at": at,
                    "sent_at": at,
                    "outcome": "sent",
                }
                for key, at in rows
            ],
        )
        bind.execute(sa.delete(markers).where(markers.c.key.like("notice:%")))


def downgrade() -> None:
    """Drop ``notice_outbox`` (delivered notices become markers again)."""
    bind = op.get_bind()
    when = sa.DateTime(timezone=True)
    outbox = sa.table("notice_outbox", sa.column("key", sa.String), sa.column("created_at", when))
    rows = bind.execute(sa.select(outbox.c.key, outbox.c.created_at)).all()
    if rows:
        op.bulk_insert(
            sa.table("job_once_keys", sa.column("key", sa.String), sa.column("created_at", when)),
            [{"key": key, "created_at": at} for key, at in rows],
        )
    op.drop_index("ix_notice_outbox_due", table_name="notice_outbox")
    op.drop_index("ix_notice_outbox_incident_id", table_name="notice_outbox")
    op.drop_table("notice_outbox")
