"""Decisions in their own table, jobs that wait or resume, leases for periodic work.

- ``decisions``: a manager's decision is part of its case (one row per incident),
  written in the same transaction as the state change and the approved jobs. Decisions
  kept so far as ``registry`` records of kind ``decision`` move here.
- ``jobs.wait_reason`` / ``jobs.resumed_at``: a job waiting out a transient fault says
  why; a job resumed by a manager restarts its deadline from ``resumed_at``.
- ``leases``: named, time-bounded leases so that periodic work (reminders, monitoring
  prompts) runs once per period across several instances.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``decisions`` and ``leases``, add the jobs' wait columns, move decisions."""
    op.create_table(
        "decisions",
        sa.Column("incident_id", sa.String(20), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("by_id", sa.String(64), nullable=False),
        sa.Column("by_name", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("actions", sa.Text, nullable=False),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("wait_reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    )
    _move_registry_decisions()


def _move_registry_decisions() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT key, value FROM registry WHERE kind = 'decision'")
    ).fetchall()
    known = {r[0] for r in bind.execute(sa.text("SELECT id FROM incidents")).fetchall()}
    for key, value in rows:
        record = json.loads(value)
        if key not in known:
            continue
        bind.execute(
            sa.text(
                "INSERT INTO decisions (incident_id, decision, by_id, by_name, at, comment,"
                " actions) VALUES (:i, :d, :b, :n, :a, :c, :x)"
            ),
            {
                "i": key,
                "d": record["decision"],
                "b": record.get("by", ""),
                "n": record.get("by_name", ""),
                "a": _parse_at(record["at"]),
                "c": record.get("comment", ""),
                "x": json.dumps(record.get("actions", [])),
            },
        )
    bind.execute(sa.text("DELETE FROM registry WHERE kind = 'decision'"))


def _parse_at(value: str) -> object:
    import datetime as dt

    return dt.datetime.fromisoformat(value)


def downgrade() -> None:
    """Drop what ``upgrade`` added (decisions are not moved back: development only)."""
    op.drop_table("leases")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("resumed_at")
        batch.drop_column("wait_reason")
    op.drop_table("decisions")
