"""The Teams registry (``Registry`` port) on SQL, and in memory for tests.

Records are small JSON objects keyed by (kind, key); a put replaces the record with one
``INSERT … ON CONFLICT DO UPDATE`` (PostgreSQL and SQLite alike), so two first saves of
the same key at once both succeed, the later one winning. A merge sets some fields and
keeps the others in that same single statement, so two instances updating different
fields of one record at once (a person's reference from their chat on one, their Teams
id from a click on another) never undo each other, as a read-then-put would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from sqlalchemy import Text, case, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.ports import Clock, SystemClock
from bot.store.engine import Engines, create_engines, upsert_insert
from bot.store.tables import counters, registry

_KEYS_PER_QUERY = 500  # well under SQLite's and asyncpg's limits on bound parameters


class SqlRegistry:
    """``Registry`` in the ``registry`` table."""

    def __init__(
        self,
        engines: Engines,
        *,
        clock: Clock | None = None,
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        self._engines = engines
        self._clock = clock or SystemClock()
        # SQLite has one writer: share the store's lock rather than wait on the file lock.
        self._write_lock = write_lock or asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, clock: Clock | None = None) -> SqlRegistry:
        """A registry on the database at ``url`` (migrated by ``bot.store.migrate``)."""
        return cls(create_engines(url), clock=clock)

    async def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        """Create or replace the record (one upsert: concurrent first saves never collide)."""
        await self.put_many(kind, {key: value})

    async def put_many(self, kind: str, values: dict[str, dict[str, Any]]) -> None:
        """Create or replace several records in one transaction (one upsert per record)."""
        if not values:
            return
        rows = self._rows(kind, values)
        async with self._engines.transaction(self._write_lock) as conn:
            await put_rows(conn, rows)

    def _rows(self, kind: str, values: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        now = self._clock.now()
        return [registry_row(kind, key, value, now) for key, value in values.items()]

    async def merge_many(self, kind: str, fields: dict[str, dict[str, Any]]) -> None:
        """Set the given fields of each record (created if missing), keep its other fields."""
        if not fields:
            return
        rows = self._rows(kind, fields)
        names = sorted({name for value in fields.values() for name in value})
        async with self._engines.transaction(self._write_lock) as conn:
            upsert = upsert_insert(conn)(registry)
            new = upsert.excluded.value
            if conn.dialect.name == "postgresql":
                merged = cast(cast(registry.c.value, JSONB).op("||")(cast(new, JSONB)), Text)
            else:
                # json_patch merges nested objects key by key: first drop each field the new
                # value sets, so that it is replaced whole, as jsonb || does.
                paths = [
                    case(
                        (func.json_type(new, f'$."{name}"').is_not(None), f'$."{name}"'),
                        else_='$."-"',
                    )
                    for name in names
                ]
                merged = func.json_patch(func.json_remove(registry.c.value, *paths), new)
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["kind", "key"],
                    set_={"value": merged, "updated_at": upsert.excluded.updated_at},
                ),
                rows,
            )

    async def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """The record, or None."""
        async with self._engines.reading() as conn:
            value = await conn.scalar(
                select(registry.c.value).where(registry.c.kind == kind, registry.c.key == key)
            )
        return dict(json.loads(value)) if value is not None else None

    async def get_many(self, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The records among ``keys`` that exist, by key (one query per 500 keys)."""
        found: dict[str, dict[str, Any]] = {}
        async with self._engines.reading() as conn:
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                rows = await conn.execute(
                    select(registry.c.key, registry.c.value).where(
                        registry.c.kind == kind,
                        registry.c.key.in_(keys[start : start + _KEYS_PER_QUERY]),
                    )
                )
                found.update((key, dict(json.loads(value))) for key, value in rows)
        return found

    async def all(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every record of ``kind``, by key."""
        async with self._engines.reading() as conn:
            rows = await conn.execute(
                select(registry.c.key, registry.c.value).where(registry.c.kind == kind)
            )
            return {key: dict(json.loads(value)) for key, value in rows}

    async def increment(self, kind: str, key: str) -> int:
        """Add one to the counter and return it, in one upsert (atomic across instances)."""
        async with self._engines.transaction(self._write_lock) as conn:
            return await draw_numbers(conn, kind, key, 1)

    async def close(self) -> None:
        """Release connections."""
        await self._engines.dispose()


def registry_row(kind: str, key: str, value: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The ``registry`` row of one record (JSON text, stamped ``now``)."""
    return {
        "kind": kind,
        "key": key,
        "value": json.dumps(value, ensure_ascii=False, sort_keys=True),
        "updated_at": now,
    }


async def put_rows(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Create or replace ``registry`` rows in the caller's transaction: one statement."""
    upsert = upsert_insert(conn)(registry)
    await conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={"value": upsert.excluded.value, "updated_at": upsert.excluded.updated_at},
        ),
        rows,
    )


async def draw_numbers(conn: AsyncConnection, kind: str, key: str, count: int) -> int:
    """Add ``count`` to the counter in the caller's transaction; the last number drawn.

    One upsert, atomic across instances: the numbers ``last - count + 1 … last`` are the
    caller's alone, and are handed out again only if its transaction rolls back.
    """
    upsert = upsert_insert(conn)(counters)
    value = await conn.scalar(
        upsert.values(kind=kind, key=key, value=count)
        .on_conflict_do_update(
            index_elements=["kind", "key"], set_={"value": counters.c.value + count}
        )
        .returning(counters.c.value)
    )
    return int(value)


class MemoryRegistry:
    """``Registry`` in a dict, for tests."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], dict[str, Any]] = {}
        self._counters: dict[tuple[str, str], int] = {}
        self.updated: dict[tuple[str, str], dt.datetime] = {}

    async def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        """Create or replace the record."""
        self._records[(kind, key)] = json.loads(json.dumps(value))

    async def put_many(self, kind: str, values: dict[str, dict[str, Any]]) -> None:
        """Create or replace several records."""
        for key, value in values.items():
            await self.put(kind, key, value)

    async def merge_many(self, kind: str, fields: dict[str, dict[str, Any]]) -> None:
        """Set the given fields of each record (created if missing), keep its other fields."""
        for key, value in fields.items():
            old = self._records.get((kind, key), {})
            self._records[(kind, key)] = {**old, **json.loads(json.dumps(value))}

    async def get_many(self, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The records among ``keys`` that exist, by key."""
        return {k: dict(v) for k in keys if (v := self._records.get((kind, k))) is not None}

    async def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """The record, or None."""
        record = self._records.get((kind, key))
        return dict(record) if record is not None else None

    async def all(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every record of ``kind``, by key."""
        return {k: dict(v) for (kd, k), v in self._records.items() if kd == kind}

    async def increment(self, kind: str, key: str) -> int:
        """Add one to the counter and return it."""
        self._counters[(kind, key)] = self._counters.get((kind, key), 0) + 1
        return self._counters[(kind, key)]

    async def close(self) -> None:
        """Nothing to release."""
