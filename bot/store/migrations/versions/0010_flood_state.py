"""The flood watch's state in its own tables (it was registry records rewritten each round).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _when(text: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def upgrade() -> None:
    """Create the four tables and move the registry's flood records into them."""
    op.create_table(
        "flood_mailboxes",
        sa.Column("mailbox", sa.String(320), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.Text, nullable=False),
        sa.Column("last_sync", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subscription_id", sa.String(200), nullable=True, unique=True),
        sa.Column("subscription_expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_state", sa.String(200), nullable=False),
    )
    op.create_table(
        "flood_seen",
        sa.Column("mailbox", sa.String(320), primary_key=True),
        sa.Column("message_key", sa.String(16), primary_key=True),
        sa.Column("minute", sa.Integer, nullable=False),
    )
    op.create_index("ix_flood_seen_mailbox_minute", "flood_seen", ["mailbox", "minute"])
    op.create_table(
        "flood_counts",
        sa.Column("mailbox", sa.String(320), primary_key=True),
        sa.Column("sender", sa.String(320), primary_key=True),
        sa.Column("minute", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("subject", sa.String(16), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_flood_counts_mailbox_minute", "flood_counts", ["mailbox", "minute"])
    op.create_table(
        "flood_alerts",
        sa.Column("mailbox", sa.String(320), primary_key=True),
        sa.Column("sender", sa.String(320), primary_key=True),
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("figures", sa.Text, nullable=False),
        sa.Column("silenced_by", sa.String(200), nullable=False),
        sa.Column("case_id", sa.String(20), nullable=False),
    )
    bind = op.get_bind()
    tables = sa.MetaData()
    tables.reflect(bind, only=["flood_mailboxes", "flood_seen", "flood_counts", "flood_alerts"])
    records = bind.execute(
        sa.text(
            "SELECT kind, key, value FROM registry WHERE kind IN ('flood-watch', 'flood-alert')"
        )
    ).all()
    for kind, key, value in records:
        record = json.loads(value)
        if kind == "flood-watch":
            _move_watch(bind, tables, key, record)
        elif record.get("id") and record.get("at") and record.get("figures"):
            mailbox, _, sender = key.partition("|")
            bind.execute(
                tables.tables["flood_alerts"].insert(),
                {
                    "mailbox": mailbox,
                    "sender": sender,
                    "alert_id": record["id"],
                    "at": _when(record["at"]),
                    "figures": json.dumps(record["figures"], sort_keys=True),
                    "silenced_by": (record.get("by") or "unknown")
                    if record.get("silenced")
                    else "",
                    "case_id": record.get("case", ""),
                },
            )
    bind.execute(sa.text("DELETE FROM registry WHERE kind IN ('flood-watch', 'flood-alert')"))


def _move_watch(bind: Any, tables: sa.MetaData, mailbox: str, record: dict[str, Any]) -> None:
    sub = record.get("subscription") or {}
    bind.execute(
        tables.tables["flood_mailboxes"].insert(),
        {
            "mailbox": mailbox,
            "status": record.get("status") or "active",
            "reason": record.get("reason", ""),
            "stopped_at": _when(record.get("stopped_at")),
            "cursor": record.get("cursor") or "",
            "last_sync": _when(record.get("last_sync")),
            "subscription_id": sub.get("id") if sub.get("expires") else None,
            "subscription_expires": _when(sub.get("expires")),
            "client_state": sub.get("client_state", ""),
        },
    )
    tally = record.get("tally") or {}
    seen = [
        {"mailbox": mailbox, "message_key": k, "minute": int(m)}
        for k, m in (tally.get("seen") or {}).items()
    ]
    counts = [
        {
            "mailbox": mailbox,
            "sender": sender,
            "minute": int(slot.partition(":")[0]),
            "subject": slot.partition(":")[2],
            "count": int(n),
        }
        for sender, bucket in (tally.get("buckets") or {}).items()
        for slot, n in bucket.items()
    ]
    if seen:
        bind.execute(tables.tables["flood_seen"].insert(), seen)
    if counts:
        bind.execute(tables.tables["flood_counts"].insert(), counts)


def downgrade() -> None:
    """Drop the tables (the state is not moved back: development only)."""
    for table in ("flood_alerts", "flood_counts", "flood_seen", "flood_mailboxes"):
        op.drop_table(table)
