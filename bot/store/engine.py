"""Engines for SQLite (default) and PostgreSQL, with the settings evidence logging needs.

SQLite gets two engines: writes begin with ``BEGIN IMMEDIATE`` so writers from several
processes (the bot and ``mamoru mail protect``) queue on the database lock instead of
failing half-way, while reads use plain deferred transactions and WAL so a long export
never blocks appends. PostgreSQL uses one engine for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, DateTime, event, func, literal, type_coerce
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_SQLITE_BUSY_MS = 30_000


@dataclass(slots=True)
class _SharedRead:
    """The read connection a task's ``Engines.reads`` block shares among its reads (opened
    by the first of them: a block whose data is all in hand costs nothing)."""

    engine: AsyncEngine
    task: asyncio.Task[Any] | None
    conn: AsyncConnection | None = None


_SHARED_READ: ContextVar[_SharedRead | None] = ContextVar("mamoru_shared_read", default=None)


@dataclass(frozen=True, slots=True)
class Engines:
    """The engine used for writes and the one used for (streaming) reads."""

    write: AsyncEngine
    read: AsyncEngine

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (writes are then serialized)."""
        return self.write.dialect.name == "sqlite"

    @contextlib.asynccontextmanager
    async def reads(self) -> AsyncIterator[None]:
        """Let this task's reads in the block share one connection (``reading``).

        Rendering a case's card reads the case, its decision, jobs, tasks, drafts and
        linked cases: each read on its own connection costs a pool checkout, a ``BEGIN``
        and a ``ROLLBACK`` besides its query. For reads only: on SQLite the block sees
        one snapshot, so a write made inside it would not be seen by its later reads.
        Other tasks (``gather``, background work spawned here) use their own connections.
        Only reads through ``reading`` belong inside, and no other I/O: a connection taken
        from the pool while the block holds one (or held across a slow call) lets fifty
        concurrent blocks exhaust the pool and wait on each other until its timeout.
        """
        if _shared(self.read) is not None:
            yield  # nested: the outer block's connection
            return
        shared = _SharedRead(self.read, asyncio.current_task())
        token = _SHARED_READ.set(shared)
        try:
            yield
        finally:
            _SHARED_READ.reset(token)
            if shared.conn is not None:
                await shared.conn.close()

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads: the enclosing ``reads`` block's, else a new one."""
        shared = _shared(self.read)
        if shared is not None:
            if shared.conn is None:
                shared.conn = await self.read.connect().start()
            yield shared.conn
            return
        async with self.read.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def transaction(self, write_lock: asyncio.Lock) -> AsyncIterator[AsyncConnection]:
        """A write transaction; on SQLite taken under ``write_lock``.

        SQLite has one writer: the store's pieces share one lock rather than wait on the
        file lock. PostgreSQL needs none.
        """
        lock = write_lock if self.is_sqlite else contextlib.nullcontext()
        async with lock, self.write.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.write.dispose()
        if self.read is not self.write:
            await self.read.dispose()


def _shared(engine: AsyncEngine) -> _SharedRead | None:
    shared = _SHARED_READ.get()
    if shared is None or shared.engine is not engine or shared.task is not asyncio.current_task():
        return None
    return shared


def normalize_url(url: str) -> str:
    """The URL with an async driver: ``postgresql://`` becomes ``postgresql+asyncpg://``."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def _sqlite_engine(url: str, begin: str) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": _SQLITE_BUSY_MS / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so our BEGIN below is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def create_engines(url: str, **kwargs: Any) -> Engines:
    """Engines for ``url`` (``sqlite+aiosqlite:///...`` or ``postgresql+asyncpg://...``)."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return Engines(_sqlite_engine(url, "BEGIN IMMEDIATE"), _sqlite_engine(url, "BEGIN"))
    engine = create_async_engine(url, pool_pre_ping=True, **kwargs)
    return Engines(engine, engine)


def upsert_insert(conn: AsyncConnection) -> Any:
    """The ``insert`` of ``conn``'s dialect, the one with ``on_conflict_do_update``."""
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def database_now(
    conn: AsyncConnection, plus: dt.timedelta = dt.timedelta(0)
) -> ColumnElement[dt.datetime]:
    """The database's current time (UTC), plus ``plus``, as a SQL expression.

    Leases are measured on this one clock: instances whose own clocks disagree by
    seconds would otherwise each see another's lease as expired (or their own as
    still running) and hold the same period or job at once. PostgreSQL: ``now()``
    (the transaction's start). SQLite: ``strftime('%f')`` in the text form SQLAlchemy
    stores, ``YYYY-MM-DD HH:MM:SS.ffffff`` (milliseconds padded), so comparisons with
    stored times stay comparisons of equal-length strings.
    """
    if conn.dialect.name == "sqlite":
        stamp = func.strftime(
            "%Y-%m-%d %H:%M:%f", "now", f"{plus.total_seconds():+.3f} seconds"
        ).concat("000")
        return type_coerce(stamp, DateTime(timezone=True))
    now = func.now()
    return type_coerce(now + literal(plus) if plus else now, DateTime(timezone=True))
