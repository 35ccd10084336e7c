"""Fixtures of the job suite: every queue test runs on memory, SQLite and PostgreSQL.

PostgreSQL reuses the store suite's session database approach (``postgres_url``: skipped
locally without a server, a failure when ``CI=true``); the job tables are emptied before
each test.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.jobs.memory import MemoryJobQueue
from bot.jobs.sql import SqlJobQueue
from bot.store.migrate import upgrade
from tests.store.backends import FakeClock, postgres_url, run_in_thread

__all__ = ["postgres_url"]

BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
SQL_BACKENDS = [p for p in BACKENDS if p.values[0] != "memory"]

Queue = MemoryJobQueue | SqlJobQueue


@dataclass
class QueueBackend:
    """A queue under test, its clock, and a way to open more queues on the same data."""

    name: str
    queue: Queue
    clock: FakeClock
    url: str | None
    _opened: list[SqlJobQueue] = field(default_factory=list)

    def another(self) -> Queue:
        """Another queue on the same data: own engines and locks, like a second instance.

        The in-memory queue has no second instance: the same object is returned.
        """
        if self.url is None:
            return self.queue
        queue = SqlJobQueue.from_url(self.url, clock=self.clock, lease_clock=self.clock)
        self._opened.append(queue)
        return queue

    async def close(self) -> None:
        """Close every queue this backend opened."""
        for queue in [self.queue, *self._opened]:
            await queue.close()


async def make_queue_backend(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[QueueBackend]:
    """Yield a fresh, empty queue backend called ``name``."""
    clock = FakeClock()
    if name == "memory":
        yield QueueBackend(name, MemoryJobQueue(clock=clock), clock, None)
        return
    if name == "sqlite":
        # A copy of a database migrated once per run: migrating each time costs more
        # than most of these tests.
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "jobs.db")
        url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    queue = SqlJobQueue.from_url(url, clock=clock, lease_clock=clock)
    if name == "postgres":
        async with queue._engines.write.begin() as conn:
            for table in ("jobs", "job_once_keys", "notice_outbox"):
                await conn.execute(text(f"DELETE FROM {table}"))  # cheaper than TRUNCATE
    backend = QueueBackend(name, queue, clock, url)
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite database file to copy."""
    path = tmp_path_factory.mktemp("jobs-template") / "jobs.db"
    run_in_thread(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=BACKENDS)
async def qb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueueBackend]:
    """A fresh queue of each kind."""
    async for b in make_queue_backend(request.param, tmp_path, request):
        yield b


@pytest.fixture(params=SQL_BACKENDS)
async def sql_qb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueueBackend]:
    """A fresh SQL queue (SQLite and PostgreSQL), for persistence and multi-instance tests."""
    async for b in make_queue_backend(request.param, tmp_path, request):
        yield b


async def until(predicate: Callable[[], bool | Awaitable[bool]], *, limit: float = 5.0) -> None:
    """Yield to the loop (1 ms steps) until ``predicate`` holds; fail after ``limit`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)
