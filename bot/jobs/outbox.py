"""The notice outbox on SQL: messages stored before they are sent, sent at least once.

A sender stores the message already leased to itself (one INSERT … ON CONFLICT DO
NOTHING: the first to store a key sends it, later ones find it there), sends it, and
records the outcome with an UPDATE conditioned on still holding the lease. A message
whose sender died keeps its lease until it runs out, then the sweep takes it
(``outbox_claim``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several instances take
different rows; SQLite's write transaction is exclusive). Leases are measured on the
database's clock, like the jobs' (``SqlJobQueue._lease_time``).

Mixed into ``SqlJobQueue``: the outbox shares its engines, write lock and clocks.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import abstractmethod
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.jobs import OutboxMessage
from bot.store.engine import upsert_insert
from bot.store.tables import notice_outbox

_columns = notice_outbox.c


class SqlOutbox:
    """The ``JobQueue`` outbox methods; the host class supplies the transaction and clocks."""

    @abstractmethod
    def _tx(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    @abstractmethod
    def _now(self) -> dt.datetime: ...

    @abstractmethod
    def _lease_time(self, conn: AsyncConnection, plus: dt.timedelta = ...) -> Any: ...

    @abstractmethod
    def _reader(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    async def outbox_add(
        self, message: OutboxMessage, owner: str, lease: dt.timedelta
    ) -> OutboxMessage | None:
        """Store ``message`` leased to ``owner``; None if its key was stored before."""
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    upsert_insert(conn)(notice_outbox)
                    .values(
                        key=message.key,
                        incident_id=message.incident_id,
                        recipient=message.recipient,
                        cards=json.dumps(message.cards, ensure_ascii=False),
                        attempts=1,
                        lease_owner=owner,
                        lease_until=self._lease_time(conn, lease),
                        created_at=self._now(),
                    )
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(*notice_outbox.c)
                )
            ).first()
        return None if row is None else _message(row)

    async def outbox_claim(
        self, owner: str, lease: dt.timedelta, *, limit: int = 50
    ) -> list[OutboxMessage]:
        """Lease to ``owner`` the undelivered messages nobody holds (their sender died)."""
        async with self._reader() as conn:
            # The sweep runs every few minutes in every instance: an empty outbox is a read.
            due = _due(self._lease_time(conn))
            if (await conn.execute(select(_columns.key).where(due).limit(1))).first() is None:
                return []
        async with self._tx() as conn:
            keys = [
                key
                for (key,) in await conn.execute(
                    select(_columns.key)
                    .where(_due(self._lease_time(conn)))
                    .order_by(_columns.created_at, _columns.key)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ]
            if not keys:
                return []
            rows = await conn.execute(
                update(notice_outbox)
                .where(_columns.key.in_(keys))
                .values(
                    attempts=_columns.attempts + 1,
                    lease_owner=owner,
                    lease_until=self._lease_time(conn, lease),
                )
                .returning(*notice_outbox.c)
            )
            taken = [_message(r) for r in rows]
        return sorted(taken, key=lambda m: (m.created_at or dt.datetime.min, m.key))

    async def outbox_done(self, key: str, owner: str, outcome: str) -> bool:
        """Record the outcome if ``owner`` still holds the message; False if it lost it."""
        return await self._owned(
            key,
            owner,
            outcome=outcome,
            sent_at=self._now(),
            lease_owner=None,
            lease_until=None,
        )

    async def outbox_retry(self, key: str, owner: str, after: dt.timedelta) -> bool:
        """A send failed: give the message up, to be taken again ``after`` from now."""
        return await self._owned(key, owner, lease_owner=None, lease_until=after)

    async def _owned(self, key: str, owner: str, **values: Any) -> bool:
        async with self._tx() as conn:
            if isinstance(values.get("lease_until"), dt.timedelta):
                values["lease_until"] = self._lease_time(conn, values["lease_until"])
            changed = await conn.execute(
                update(notice_outbox)
                .where(
                    _columns.key == key,
                    _columns.outcome.is_(None),
                    _columns.lease_owner == owner,
                )
                .values(**values)
                .returning(_columns.key)
            )
            return changed.first() is not None

    async def outbox_for_incident(self, incident_id: str) -> list[OutboxMessage]:
        """The case's messages, oldest first."""
        query = (
            select(notice_outbox)
            .where(_columns.incident_id == incident_id)
            .order_by(_columns.created_at, _columns.key)
        )
        async with self._reader() as conn:
            return [_message(r) for r in await conn.execute(query)]


def _due(now: Any) -> Any:
    return (_columns.outcome.is_(None)) & or_(
        _columns.lease_until.is_(None), _columns.lease_until <= now
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _message(row: Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        key=row.key,
        incident_id=row.incident_id,
        recipient=row.recipient,
        cards=json.loads(row.cards),
        attempts=row.attempts,
        lease_owner=row.lease_owner,
        lease_until=_utc(row.lease_until),
        created_at=_utc(row.created_at),
        sent_at=_utc(row.sent_at),
        outcome=row.outcome,
    )
