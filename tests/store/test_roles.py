"""PostgreSQL with two roles: the owner migrates, the app's role cannot rewrite evidence.

A fresh database and a fresh login role per test; the owner is the test server's admin.
The app's role does everything the bot does (cases, evidence, jobs), and every way of
changing or removing evidence is refused to it by the server itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.domain.evidence import NoteItem
from bot.evidence.blobs import LocalBlobStore
from bot.evidence.verify import verify_case
from bot.store.migrate import upgrade
from bot.store.registry import SqlRegistry
from bot.store.sql import SqlStore
from tests.store.backends import PG_HOST, PG_PORT, FakeClock, _admin_connect, in_ci
from tests.store.test_repository import ALICE, draft

pytestmark = pytest.mark.postgres


async def _admin() -> tuple[asyncpg.Connection, str]:
    try:
        return await _admin_connect()
    except ConnectionError as exc:
        if in_ci():
            pytest.fail(f"CI=true requires PostgreSQL: {exc}")
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} is unreachable: {exc}")


@pytest.fixture
async def two_roles() -> AsyncIterator[tuple[str, str]]:
    """(owner URL, app URL) on a fresh database; the app role does not exist yet."""
    conn, admin = await _admin()
    database = f"mamoru_roles_{uuid.uuid4().hex[:10]}"
    role = f"mamoru_app_{uuid.uuid4().hex[:10]}"
    await conn.execute(f'CREATE DATABASE "{database}"')
    await conn.close()
    base = f"{PG_HOST}:{PG_PORT}/{database}"
    try:
        yield f"postgresql+asyncpg://{admin}@{base}", f"postgresql+asyncpg://{role}:s3cr'et@{base}"
    finally:
        conn, _ = await _admin_connect()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            await conn.close()


REFUSED = [
    "UPDATE evidence SET entry = 'x'",
    "DELETE FROM evidence",
    "TRUNCATE evidence",
    "DELETE FROM evidence_heads",
    "UPDATE evidence_heads SET case_id = 'KH-2026-9999'",
    "ALTER TABLE evidence DISABLE TRIGGER evidence_append_only",
    "DROP TRIGGER evidence_append_only ON evidence",
    "DROP TABLE evidence",
    "DELETE FROM alembic_version",
    "DELETE FROM org_case_members",
    "DELETE FROM org_cases",
    "UPDATE org_case_members SET incident_id = 'KH-2026-9999'",
    "UPDATE org_case_merges SET into_org = 'ORG-KH-2026-9999'",
    "DELETE FROM org_case_merges",
    # The counterpart index is derived from a case's counterparts, written once with it.
    "UPDATE case_counterparts SET key = 'email:someone@else.example'",
    "DELETE FROM case_counterparts",
    "CREATE TABLE evil (x int)",
]


async def test_the_app_role_appends_but_never_rewrites_evidence(
    two_roles: tuple[str, str], tmp_path: Path
) -> None:
    owner_url, app_url = two_roles
    await upgrade(owner_url, app_url=app_url)
    await upgrade(owner_url, app_url=app_url)  # idempotent: re-run after every upgrade
    blobs = LocalBlobStore(tmp_path / "blobs")
    store = SqlStore.from_url(app_url, blobs=blobs, clock=FakeClock())
    registry = SqlRegistry(store._engines, clock=FakeClock())
    try:
        await upgrade(app_url)  # the app at startup: schema current, nothing to do
        incident = await store.create_incident(draft(), idempotency_key="roles")
        for n in range(3):
            await store.append_evidence(incident.id, NoteItem(text=f"メモ{n}"), recorded_by=ALICE)
        await registry.put("test", "k", {"v": 1})
        # The app merges and takes a member out (insert, and update of the left_* columns).
        other = await store.create_incident(draft(), idempotency_key="roles-2")
        org = await store.merge_cases("", [incident, other], by=ALICE)
        await store.remove_from_org_case(org.id, other.id, by=ALICE)
        # Two organisational cases merged: rows moved (insert, left_*), the record inserted.
        third = await store.create_incident(draft(), idempotency_key="roles-3")
        younger = await store.merge_cases("", [other, third], by=ALICE)
        ids = [incident.id, other.id, third.id]
        assert (await store.merge_org_cases(org.id, younger.id, ids, by=ALICE)).id == org.id
        # Creating a case wrote its counterpart index (INSERT); linking reads it (SELECT).
        shared = await store.cases_sharing(["email:x@example.jp"])
        assert [c.id for c in shared] == ids
        verified = await verify_case(store, blobs, incident.id)
        assert verified.ok
        async with store._engines.write.connect() as conn:
            user = (await conn.execute(text("SELECT current_user"))).scalar_one()
            assert user == app_url.split("//")[1].split(":")[0]
        for statement in REFUSED:
            async with store._engines.write.connect() as conn:
                with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
                    await conn.execute(text(statement))
                await conn.rollback()
        after = await verify_case(store, blobs, incident.id)
        assert after.ok and (after.count, after.head) == (verified.count, verified.head)
    finally:
        await store.close()
