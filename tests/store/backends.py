"""Store backends for the shared repository suite: in-memory fake, SQLite, PostgreSQL.

PostgreSQL: a fresh database per test run on 127.0.0.1:5432 (trust auth, user postgres
or root), dropped at the end. Unreachable server: skip locally, fail when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import pytest
from sqlalchemy import text

from bot.evidence.blobs import LocalBlobStore
from bot.store.engine import Engines, create_engines
from bot.store.memory import MemoryStore
from bot.store.migrate import upgrade
from bot.store.registry import SqlRegistry
from bot.store.sql import SqlStore

PG_HOST = os.environ.get("MAMORU_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MAMORU_TEST_PG_PORT", "5432"))
PG_USERS = ("postgres", "root")
TABLES = (
    "org_case_merges",
    "org_case_members",
    "org_cases",
    "case_counterparts",
    "flood_alerts",
    "flood_counts",
    "flood_seen",
    "flood_mailboxes",
    "decisions",
    "jobs",
    "job_once_keys",
    "notice_outbox",
    "registry",
    "leases",
    "case_tasks",
    "evidence",
    "evidence_heads",
    "incident_events",
    "incident_targets",
    "incident_sequences",
    "incidents",
)


def run_in_thread[T](coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on its own event loop in a thread (callable from inside a running loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def in_ci() -> bool:
    """Whether ``CI`` is set to a true value."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.current = now or dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        """The current fake time."""
        return self.current

    def advance(self, **kwargs: float) -> None:
        """Move time forward."""
        self.current += dt.timedelta(**kwargs)


async def _admin_connect() -> tuple[asyncpg.Connection, str]:
    errors: list[str] = []
    for user in PG_USERS:
        try:
            conn = await asyncpg.connect(
                host=PG_HOST, port=PG_PORT, user=user, database="test", timeout=3
            )
            return conn, user
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            errors.append(f"{user}: {type(exc).__name__}: {exc}")
    raise ConnectionError("; ".join(errors))


async def _create_database() -> tuple[str, str]:
    conn, user = await _admin_connect()
    name = f"mamoru_test_{uuid.uuid4().hex[:12]}"
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}", name


async def _drop_database(name: str) -> None:
    conn, _ = await _admin_connect()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def unreachable(exc: ConnectionError) -> NoReturn:
    """Skip the test for a PostgreSQL server that cannot be reached (fail it when ``CI=true``)."""
    message = f"PostgreSQL at {PG_HOST}:{PG_PORT} (database test) is unreachable: {exc}"
    if in_ci():
        pytest.fail(f"CI=true requires PostgreSQL: {message}")
    pytest.skip(message)


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (not migrated) for one test, dropped afterwards."""
    try:
        url, name = await _create_database()
    except ConnectionError as exc:
        unreachable(exc)
    try:
        yield url
    finally:
        await _drop_database(name)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this test run, dropped afterwards."""
    try:
        url, name = run_in_thread(_create_database())
    except ConnectionError as exc:
        unreachable(exc)
    try:
        run_in_thread(upgrade(url))
        yield url
    finally:
        run_in_thread(_drop_database(name))


async def fresh_engines(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Engines]:
    """Engines on an empty, unmigrated database: a SQLite file or a PostgreSQL database."""
    name = ""
    if kind == "postgres":
        request.getfixturevalue("postgres_url")  # skips (or fails in CI) without a server
        url, name = run_in_thread(_create_database())
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'mamoru.db'}"
    made = create_engines(url)
    try:
        yield made
    finally:
        await made.dispose()
        if name:
            run_in_thread(_drop_database(name))


@dataclass
class Backend:
    """A store under test plus what tamper tests need."""

    name: str
    store: MemoryStore | SqlStore
    clock: FakeClock
    blobs: LocalBlobStore


async def make_backend(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Backend]:
    """Yield a fresh, empty backend called ``name``."""
    clock = FakeClock()
    blobs = LocalBlobStore(tmp_path / "blobs")
    if name == "memory":
        yield Backend(name, MemoryStore(blobs=blobs, clock=clock), clock, blobs)
        return
    if name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'mamoru.db'}"
        await upgrade(url)
    else:
        url = request.getfixturevalue("postgres_url")
    store = SqlStore.from_url(url, blobs=blobs, clock=clock)
    if name == "postgres":
        async with store._engines.write.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    try:
        yield Backend(name, store, clock, blobs)
    finally:
        await store.close()


@asynccontextmanager
async def registries_as_instances(backend: Backend, count: int) -> AsyncIterator[list[SqlRegistry]]:
    """``count`` SQL registries on the backend's database, each with its own pool.

    Separate pools behave like separate instances writing the same rows at once.
    """
    store = backend.store
    assert isinstance(store, SqlStore)
    url = store._engines.write.url.render_as_string(hide_password=False)
    registries = [SqlRegistry.from_url(url) for _ in range(count)]
    try:
        yield registries
    finally:
        for registry in registries:
            await registry.close()


async def tamper(backend: Backend, sql: str, **params: object) -> None:
    """Run ``sql`` (``;``-separated) with the append-only triggers dropped, as an attacker would."""
    assert isinstance(backend.store, SqlStore)
    async with backend.store._engines.write.begin() as conn:
        if backend.name == "sqlite":
            await conn.execute(text("DROP TRIGGER IF EXISTS evidence_no_update"))
            await conn.execute(text("DROP TRIGGER IF EXISTS evidence_no_delete"))
        else:
            await conn.execute(text("ALTER TABLE evidence DISABLE TRIGGER evidence_append_only"))
        for statement in sql.split(";"):
            await conn.execute(text(statement), params)
        if backend.name == "postgres":
            await conn.execute(text("ALTER TABLE evidence ENABLE TRIGGER evidence_append_only"))
