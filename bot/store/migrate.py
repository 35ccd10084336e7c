"""Run the Alembic migrations shipped in ``bot/store/migrations`` (startup and CLI)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import create_engines

log = logging.getLogger(__name__)
_SCRIPTS = Path(__file__).parent / "migrations"


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_config(connection), "head")


async def upgrade_engine(engine: AsyncEngine) -> None:
    """Bring the database behind ``engine`` to the latest schema."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
    log.info("database schema is up to date")


async def upgrade(url: str, **engine_kwargs: Any) -> None:
    """Bring the database at ``url`` to the latest schema (idempotent; run at startup)."""
    engines = create_engines(url, **engine_kwargs)
    try:
        await upgrade_engine(engines.write)
    finally:
        await engines.dispose()
