"""Migration 0012: notices already given (at-most-once markers) become delivered rows.

An office upgraded mid-case must not hear its news again: the sweep re-settles open
cases, and a status notice whose marker was in ``job_once_keys`` is found in the outbox
as sent, so nothing goes out a second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.domain.jobs import OutboxMessage
from bot.jobs.sql import SqlJobQueue
from bot.store.engine import Engines
from tests.store.backends import fresh_engines, postgres_url
from tests.store.test_department_channels import migrate_to

__all__ = ["postgres_url"]

AT = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)
TOLD = "notice:KH-2026-0007:status:mail-protection=done;tasks=0"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engines(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engines]:
    """Engines on an empty database (not migrated)."""
    async for made in fresh_engines(request.param, tmp_path, request):
        yield made


async def test_notice_markers_become_delivered_outbox_rows(engines: Engines) -> None:
    await migrate_to(engines, "0011")
    async with engines.write.begin() as conn:
        for key in (TOLD, "cutoff:KH-2026-0007"):
            await conn.execute(
                text("INSERT INTO job_once_keys (key, created_at) VALUES (:k, :at)"),
                {"k": key, "at": AT},
            )
    await migrate_to(engines, "head")
    queue = SqlJobQueue(engines)
    [row] = await queue.outbox_for_incident("KH-2026-0007")
    assert (row.key, row.outcome, row.sent_at) == (TOLD, "sent", AT)
    # The same news again (the sweep settles the case after the upgrade): not stored, not sent.
    again = OutboxMessage(TOLD, "KH-2026-0007", "staff-1", {"ja": {}})
    assert await queue.outbox_add(again, "w", dt.timedelta(seconds=60)) is None
    # Other markers stay markers: a one-time mail's is still taken.
    assert await queue.mark_once("cutoff:KH-2026-0007") is False
    assert await queue.mark_once(TOLD) is True  # no longer a marker: the outbox has it
