"""The counterpart index: case_counterparts (key -> case), backfilled from every case.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_PAGE = 1000


def upgrade() -> None:
    """Create ``case_counterparts`` and index the counterparts of the cases already there."""
    # The keys come from the application's one normalisation (bot.domain.linking via
    # bot.store.counterparts), so the backfilled rows equal what create_incident writes.
    from bot.store.common import counterparts_from_json
    from bot.store.counterparts import index_rows

    op.create_table(
        "case_counterparts",
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("incident_id", sa.String(20), sa.ForeignKey("incidents.id"), primary_key=True),
    )
    op.create_index("ix_case_counterparts_incident_id", "case_counterparts", ["incident_id"])
    bind = op.get_bind()
    insert = sa.text("INSERT INTO case_counterparts (key, incident_id) VALUES (:key, :incident_id)")
    last = ""
    while True:  # in pages of ids: flat memory however many cases there are
        page = bind.execute(
            sa.text("SELECT id, counterparts FROM incidents WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": _PAGE},
        ).all()
        if not page:
            break
        rows = [
            r for case_id, text in page for r in index_rows(case_id, counterparts_from_json(text))
        ]
        if rows:
            bind.execute(insert, rows)
        last = page[-1][0]


def downgrade() -> None:
    """Drop the index (it is derived from ``incidents.counterparts``)."""
    op.drop_table("case_counterparts")
