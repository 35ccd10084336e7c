"""Organisational cases in their own tables (they were registry records).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``org_cases`` and ``org_case_members``; move the registry's records into them."""
    op.create_table(
        "org_cases",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.String(64), nullable=False),
        sa.Column("created_by_name", sa.String(200), nullable=False),
    )
    op.create_table(
        "org_case_members",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(40), sa.ForeignKey("org_cases.id"), nullable=False),
        sa.Column("incident_id", sa.String(20), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("joined_by_id", sa.String(64), nullable=False),
        sa.Column("joined_by_name", sa.String(200), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_by_id", sa.String(64), nullable=False),
        sa.Column("left_by_name", sa.String(200), nullable=False),
    )
    op.create_index("ix_org_case_members_incident_id", "org_case_members", ["incident_id"])
    op.create_index("ix_org_case_members_org_id", "org_case_members", ["org_id"])
    _move_registry_records()


def _move_registry_records() -> None:
    # The first merge kept {members, by, by_name, at} under kind 'org-case' (an absorbed one
    # only {merged_into}) and {org} under 'org-member' for each member.
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT key, value, updated_at FROM registry WHERE kind = 'org-case'")
    ).all()
    known = set(bind.execute(sa.text("SELECT id FROM incidents")).scalars())
    for key, value, updated_at in rows:
        record = json.loads(value)
        members = [m for m in record.get("members", []) if m in known]
        if not members:
            continue
        at = dt.datetime.fromisoformat(record["at"]) if record.get("at") else updated_at
        by = {"i": str(record.get("by", "")), "n": str(record.get("by_name", ""))}
        bind.execute(
            sa.text(
                "INSERT INTO org_cases (id, created_at, created_by_id, created_by_name)"
                " VALUES (:o, :a, :i, :n)"
            ),
            {"o": key, "a": at, **by},
        )
        for member in members:
            bind.execute(
                sa.text(
                    "INSERT INTO org_case_members (org_id, incident_id, joined_at, joined_by_id,"
                    " joined_by_name, left_at, left_by_id, left_by_name)"
                    " VALUES (:o, :m, :a, :i, :n, NULL, '', '')"
                ),
                {"o": key, "m": member, "a": at, **by},
            )
    bind.execute(sa.text("DELETE FROM registry WHERE kind IN ('org-case', 'org-member')"))


def downgrade() -> None:
    """Drop the tables (records are not moved back: development only)."""
    op.drop_index("ix_org_case_members_org_id", table_name="org_case_members")
    op.drop_index("ix_org_case_members_incident_id", table_name="org_case_members")
    op.drop_table("org_case_members")
    op.drop_table("org_cases")
