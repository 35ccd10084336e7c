"""Run the Alembic migrations shipped in ``bot/store/migrations`` (startup and CLI).

With ``app_url`` (PostgreSQL, two roles), the migrating owner then grants the app's
role its privileges (bot/store/grants.py).

Several instances start at once when App Service scales out, and each migrates at
startup: on PostgreSQL the upgrade runs under a transaction-level advisory lock, so
one migrates and the others wait, then find the schema current (without it, two
``CREATE TABLE alembic_version`` collide and an instance fails to start). SQLite
serializes schema changes on its own database lock.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import create_engines
from bot.store.grants import grant_app_role

log = logging.getLogger(__name__)
_SCRIPTS = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key of the schema upgrade: any constant no other lock uses
# (the ASCII of "mamoru:m").
MIGRATION_LOCK = 0x6D616D6F72753A6D


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_config(connection), "head")


async def upgrade_engine(engine: AsyncEngine, app_url: str | None = None) -> None:
    """Bring the database behind ``engine`` to the latest schema (and grant ``app_url``'s role)."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Held until this transaction ends: one instance migrates at a time.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        await connection.run_sync(_upgrade)
        if app_url:
            await connection.run_sync(grant_app_role, app_url)
    log.info("database schema is up to date")


async def upgrade(url: str, *, app_url: str | None = None, **engine_kwargs: Any) -> None:
    """Bring the database at ``url`` to the latest schema (idempotent; run at startup).

    ``app_url``: the URL the app connects with, when it is another role than ``url``'s.
    """
    engines = create_engines(url, **engine_kwargs)
    try:
        await upgrade_engine(engines.write, app_url if app_url and app_url != url else None)
    finally:
        await engines.dispose()
