"""Each department's managers' channel (``DepartmentChannels`` port) on SQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from bot.domain.departments import ManagersChannel
from bot.store.engine import Engines, upsert_insert
from bot.store.tables import department_channels


class SqlDepartmentChannels:
    """``DepartmentChannels`` in the ``department_channels`` table."""

    def __init__(self, engines: Engines, *, write_lock: asyncio.Lock | None = None) -> None:
        self._engines = engines
        # SQLite has one writer: share the store's lock rather than wait on the file lock.
        self._write_lock = write_lock or asyncio.Lock()

    async def set_channel(self, channel: ManagersChannel) -> None:
        """Create or replace the department's channel (one upsert)."""
        row = {
            "department": channel.department,
            "channel_id": channel.channel_id,
            "service_url": channel.service_url,
            "tenant_id": channel.tenant_id,
            "registered_by": channel.registered_by,
            "registered_at": channel.registered_at,
        }
        async with self._engines.transaction(self._write_lock) as conn:
            insert = upsert_insert(conn)
            upsert = insert(department_channels).values(**row)
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["department"],
                    set_={k: upsert.excluded[k] for k in row if k != "department"},
                )
            )

    async def departments_of_channel(self, channel_id: str) -> frozenset[str]:
        """The departments whose managers' channel ``channel_id`` is."""
        async with self._engines.read.connect() as conn:
            rows = await conn.execute(
                select(department_channels.c.department).where(
                    department_channels.c.channel_id == channel_id
                )
            )
            return frozenset(department for (department,) in rows)

    async def channel_of(self, department: str) -> ManagersChannel | None:
        """The department's channel, or None."""
        async with self._engines.read.connect() as conn:
            row = (
                await conn.execute(
                    select(department_channels).where(
                        department_channels.c.department == department
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        registered_at = row.registered_at
        if registered_at.tzinfo is None:  # SQLite hands back naive UTC
            registered_at = registered_at.replace(tzinfo=dt.UTC)
        return ManagersChannel(
            department=row.department,
            channel_id=row.channel_id,
            service_url=row.service_url,
            tenant_id=row.tenant_id,
            registered_by=row.registered_by,
            registered_at=registered_at,
        )
