"""Each department's managers' channel (and other registry records that became tables).

Channels registered before the table existed (registry records) move into it with the
migration, so an upgraded office keeps receiving its cases without running setup again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from bot.domain.departments import ManagersChannel
from bot.store.departments import SqlDepartmentChannels
from bot.store.engine import Engines
from bot.store.migrate import _config
from bot.store.registry import SqlRegistry
from tests.store.backends import fresh_engines, postgres_url

__all__ = ["postgres_url"]

AT = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engines(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engines]:
    """Engines on an empty database (not migrated)."""
    async for made in fresh_engines(request.param, tmp_path, request):
        yield made


async def migrate_to(engines: Engines, revision: str) -> None:
    async with engines.write.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), revision))


async def test_a_channel_is_set_replaced_and_read(engines: Engines) -> None:
    await migrate_to(engines, "head")
    channels = SqlDepartmentChannels(engines)
    assert await channels.channel_of("shimin") is None
    first = ManagersChannel("shimin", "19:a@thread.tacv2", "https://smba/", "t1", "oid-1", AT)
    await channels.set_channel(first)
    assert await channels.channel_of("shimin") == first
    moved = ManagersChannel("shimin", "19:b@thread.tacv2", "https://smba/", "t1", "oid-2", AT)
    await channels.set_channel(moved)
    assert await channels.channel_of("shimin") == moved
    assert await channels.channel_of("zeimu") is None


async def test_registry_channels_move_into_the_table(engines: Engines) -> None:
    await migrate_to(engines, "0005")
    record = {
        "channel_id": "19:old@thread.tacv2",
        "service_url": "https://smba.example/",
        "tenant_id": "t1",
        "by": "oid-kacho",
        "at": AT.isoformat(),
    }
    async with engines.write.begin() as conn:
        await conn.execute(
            text("INSERT INTO registry (kind, key, value, updated_at) VALUES (:k, :y, :v, :u)"),
            {"k": "channel", "y": "市民課", "v": json.dumps(record), "u": AT},
        )
    await migrate_to(engines, "head")
    channel = await SqlDepartmentChannels(engines).channel_of("市民課")
    assert channel == ManagersChannel(
        "市民課", "19:old@thread.tacv2", "https://smba.example/", "t1", "oid-kacho", AT
    )
    async with engines.read.connect() as conn:
        left = await conn.scalar(text("SELECT count(*) FROM registry WHERE kind = 'channel'"))
    assert left == 0


async def test_registry_reference_counters_move_into_the_counters_table(engines: Engines) -> None:
    # A day's reference numbers handed out before 0007 continue, not restart at 1.
    await migrate_to(engines, "0006")
    async with engines.write.begin() as conn:
        await conn.execute(
            text("INSERT INTO registry (kind, key, value, updated_at) VALUES (:k, :y, :v, :u)"),
            {"k": "org-mail-ref", "y": "市民課:20261202", "v": json.dumps({"n": 4}), "u": AT},
        )
    await migrate_to(engines, "head")
    registry = SqlRegistry(engines)
    assert await registry.increment("org-mail-ref", "市民課:20261202") == 5
    assert await registry.get("org-mail-ref", "市民課:20261202") is None
