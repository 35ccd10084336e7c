"""PostgreSQL: the app's own role owns nothing and may not change or delete evidence.

Two roles: the *owner* (``MAMORU_MIGRATION_DATABASE_URL``) creates and alters the tables
and runs the migrations; the *app* (``DATABASE_URL``) is what the bot connects as. After
every upgrade the owner (re)grants the app role exactly what the bot needs:

    every table        SELECT, INSERT, UPDATE, DELETE
    evidence           SELECT, INSERT only (append-only; the trigger refuses the rest too)
    decisions          SELECT, INSERT only (a manager's decision is never rewritten)
    evidence_heads     SELECT, INSERT, UPDATE of (count, hash) only: no DELETE
    org_cases          SELECT, INSERT only (an organisational case is never removed)
    org_case_merges    SELECT, INSERT only (where an emptied organisational case's members went)
    org_case_members   SELECT, INSERT, UPDATE of the left_* columns only (history: no DELETE)
    case_counterparts  SELECT, INSERT only (the counterpart index: written with the case, in
                       its transaction, from counterparts that never change; migration 0008
                       backfills as the owner; nothing updates or deletes a row)
    alembic_version    SELECT (startup checks the schema is current)
    sequences          USAGE, SELECT

As a non-owner the app role can neither drop nor disable the append-only trigger, nor
TRUNCATE. The owner still can: the chain-head anchors outside the database
(bot/evidence/anchors.py) are what reveals that.

The app role is created (``LOGIN``, with the password in ``DATABASE_URL``) if missing.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

log = logging.getLogger(__name__)
EVIDENCE_TABLES = ("evidence", "evidence_heads")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def app_role_of(app_url: str) -> tuple[str, str | None]:
    """The user name and password ``DATABASE_URL`` connects with."""
    url = make_url(app_url)
    if not url.username:
        raise ValueError("DATABASE_URL names no user: the app's role cannot be granted")
    return url.username, url.password


def grant_app_role(connection: Connection, app_url: str) -> str | None:
    """Create the app's role if missing and grant it its privileges; returns the role.

    None (nothing done) when the app connects as the owner itself, or on SQLite.
    """
    if connection.dialect.name != "postgresql":
        return None
    role, password = app_role_of(app_url)
    owner = connection.execute(text("SELECT current_user")).scalar_one()
    if role == owner:
        return None
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    if exists is None:
        secret = f" PASSWORD {_literal(password)}" if password else ""
        connection.execute(text(f"CREATE ROLE {_ident(role)} LOGIN{secret}"))
        log.info("database role for the app created")
    who = _ident(role)
    database = connection.execute(text("SELECT current_database()")).scalar_one()
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    tables = [
        name
        for (name,) in connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": schema}
        )
    ]
    statements = [
        f"GRANT CONNECT ON DATABASE {_ident(database)} TO {who}",
        f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {who}",
    ]
    for table in tables:
        name = _ident(table)
        statements.append(f"REVOKE ALL ON {name} FROM {who}")
        if table == "alembic_version":
            statements.append(f"GRANT SELECT ON {name} TO {who}")
        elif table in ("evidence", "decisions"):
            # A decision, once taken, is part of the case's record: never changed.
            statements.append(f"GRANT SELECT, INSERT ON {name} TO {who}")
        elif table in ("org_cases", "org_case_merges", "case_counterparts"):
            # Never removed (an organisational case, the record of two merged); derived
            # once, with the case, from counterparts no code path changes (the index).
            statements.append(f"GRANT SELECT, INSERT ON {name} TO {who}")
        elif table == "org_case_members":
            # Taking a case out marks its row; the membership history is never deleted.
            statements.append(
                f"GRANT SELECT, INSERT, UPDATE (left_at, left_by_id, left_by_name) ON {name} "
                f"TO {who}"
            )
        elif table == "evidence_heads":
            statements.append(f"GRANT SELECT, INSERT, UPDATE (count, hash) ON {name} TO {who}")
        else:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {who}")
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_ident(schema)} TO {who}")
    for statement in statements:
        connection.execute(text(statement))
    log.info("database privileges granted to the app's role (%d tables)", len(tables))
    return role
