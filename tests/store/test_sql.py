"""SQL-only properties: triggers, persistence, several independent writers, migrations."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.domain.evidence import NoteItem
from bot.store.sql import SqlStore
from bot.store.tables import metadata
from tests.store.backends import Backend
from tests.store.test_repository import BOB, chain_report, draft


def _url(backend: Backend) -> str:
    assert isinstance(backend.store, SqlStore)
    return backend.store._engines.write.url.render_as_string(hide_password=False)


async def test_database_refuses_update_and_delete_of_evidence(sql_backend: Backend) -> None:
    store = sql_backend.store
    assert isinstance(store, SqlStore)
    incident = await store.create_incident(draft(), idempotency_key="k")
    for sql in ("UPDATE evidence SET entry = 'x'", "DELETE FROM evidence"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with store._engines.write.begin() as conn:
                await conn.execute(text(sql))
    assert (await chain_report(sql_backend, incident.id)).ok


async def test_data_survives_a_new_store(sql_backend: Backend) -> None:
    incident = await sql_backend.store.create_incident(draft(), idempotency_key="k")
    await sql_backend.store.append_evidence(incident.id, NoteItem("n"), recorded_by=BOB)
    again = SqlStore.from_url(_url(sql_backend), blobs=sql_backend.blobs, clock=sql_backend.clock)
    try:
        assert await again.load_incident(incident.id) == incident
        assert (await again.evidence_head(incident.id)).count == 2
    finally:
        await again.close()


async def test_independent_writers_make_one_valid_chain(sql_backend: Backend) -> None:
    # Separate stores = separate pools and locks, like the bot and `mamoru mail protect`
    # running side by side: only the database (FOR UPDATE / BEGIN IMMEDIATE) orders them.
    incident = await sql_backend.store.create_incident(draft(), idempotency_key="k")
    stores = [
        SqlStore.from_url(_url(sql_backend), blobs=sql_backend.blobs, clock=sql_backend.clock)
        for _ in range(4)
    ]

    async def writer(store: SqlStore, w: int) -> None:
        for n in range(25):
            await store.append_evidence(incident.id, NoteItem(f"{w}/{n}"), recorded_by=BOB)

    try:
        await asyncio.gather(*(writer(s, w) for s in stores for w in range(3)))
    finally:
        for s in stores:
            await s.close()
    report = await chain_report(sql_backend, incident.id)
    assert report.ok, report.problem
    assert report.count == 1 + 4 * 3 * 25


async def test_migrations_match_the_tables(sql_backend: Backend) -> None:
    assert isinstance(sql_backend.store, SqlStore)
    async with sql_backend.store._engines.write.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert diff == []
