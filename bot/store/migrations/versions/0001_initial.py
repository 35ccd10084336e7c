"""Incidents, timelines, per-year id sequences and the append-only evidence log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Evidence rows can never be changed or removed through SQL either: the database refuses
# it, so only someone who first drops the trigger (and leaves a trace) can tamper.
_PG_APPEND_ONLY = [
    """
    CREATE FUNCTION mamoru_evidence_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'evidence is append-only';
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER evidence_append_only BEFORE UPDATE OR DELETE ON evidence
    FOR EACH ROW EXECUTE FUNCTION mamoru_evidence_append_only()
    """,
]
_SQLITE_APPEND_ONLY = [
    """
    CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
    BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END
    """,
    """
    CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
    BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END
    """,
]


def upgrade() -> None:
    """Create the schema."""
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("department", sa.String(200), nullable=False),
        sa.Column("reporter_id", sa.String(64), nullable=False),
        sa.Column("reporter_name", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("counterparts", sa.Text, nullable=False),
        sa.Column("physical_threat", sa.Boolean, nullable=False),
        sa.Column("started_on", sa.Date, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.UniqueConstraint("year", "number", name="uq_incidents_year_number"),
    )
    op.create_index("ix_incidents_reporter_id", "incidents", ["reporter_id"])
    op.create_table(
        "incident_targets",
        sa.Column("incident_id", sa.String(20), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("object_id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_incident_targets_object_id", "incident_targets", ["object_id"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(20), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=True),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])
    op.create_table(
        "incident_sequences",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "evidence_heads",
        sa.Column("case_id", sa.String(20), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "evidence",
        sa.Column("case_id", sa.String(20), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dedup_key", sa.String(512), nullable=True),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "dedup_key", name="uq_evidence_case_dedup"),
    )
    statements = (
        _PG_APPEND_ONLY if op.get_bind().dialect.name == "postgresql" else _SQLITE_APPEND_ONLY
    )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Drop the schema (development only: evidence is never dropped in production)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS evidence_append_only ON evidence")
        op.execute("DROP FUNCTION IF EXISTS mamoru_evidence_append_only()")
    for table in (
        "evidence",
        "evidence_heads",
        "incident_sequences",
        "incident_events",
        "incident_targets",
        "incidents",
    ):
        op.drop_table(table)
