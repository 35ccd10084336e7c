"""Instances that start together migrate a fresh PostgreSQL database together: one does it.

App Service starts every instance of a scaled-out plan at once, and each brings the schema
up to date at startup (``bot.store.migrate.upgrade``). Without the advisory lock two
``CREATE TABLE alembic_version`` collide and an instance fails to start.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.store.engine import create_engines
from bot.store.migrate import upgrade
from tests.store.backends import fresh_database

pytestmark = pytest.mark.postgres


async def test_three_instances_migrate_a_fresh_database_at_once() -> None:
    async with fresh_database() as url:
        async with asyncio.timeout(60):  # without the lock they may also wait on each other
            await asyncio.gather(*(upgrade(url) for _ in range(3)))
        engines = create_engines(url)
        try:
            async with engines.read.connect() as conn:
                versions = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).all()
        finally:
            await engines.dispose()
        assert len(versions) == 1
