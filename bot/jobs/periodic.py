"""Periodic work that runs once per period across instances: named leases.

Reminders and monitoring prompts are looked for every few minutes by every running
instance; the one that takes the period's lease does the work, the others skip it.
A lease is one row of ``leases``: taken with a single upsert that only succeeds when
the row is missing or its lease has run out, so exactly one taker wins, whatever the
number of instances. Lease times come from the database's clock (``now()``), never the
instance's: of two instances whose clocks disagree, the one running ahead would otherwise
see the other's lease as expired and run the same period. An instance killed mid-period
leaves its lease to expire; the next period is taken by another, and nothing is lost
because the work itself looks at what is due (reminders are marked once,
``JobQueue.mark_once``; staff notices go through the outbox, whose sweep is the
reminders' tick: ``bot/cases/staff_notices.py``).

SQLite is single-instance: ``SingleRunnerLock`` keeps a second process from running
jobs and periodic work on the same database file, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.ports import Clock, SystemClock
from bot.store.engine import Engines, database_now, upsert_insert
from bot.store.tables import leases

log = logging.getLogger(__name__)
SKEW_WARNING = dt.timedelta(seconds=5)  # an instance clock further off than this is logged


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease taken: nobody else holds ``name`` from ``start`` until ``until``."""

    name: str
    owner: str
    start: dt.datetime
    until: dt.datetime


class SqlLeases:
    """Named, time-bounded leases in the ``leases`` table, measured on the database's clock.

    ``clock`` is the instance's own clock: leases never use it (instances' clocks drift
    apart; the database's is the one they share), it only tells how far this instance's
    clock is from the database's, logged once when it is more than ``SKEW_WARNING``.
    """

    def __init__(
        self,
        engines: Engines,
        *,
        clock: Clock | None = None,
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        self._engines = engines
        self._clock = clock or SystemClock()
        self._write_lock = write_lock or asyncio.Lock()
        self._skew_told = False

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        async with self._engines.transaction(self._write_lock) as conn:
            yield conn

    async def take(self, name: str, owner: str, duration: dt.timedelta) -> Lease | None:
        """Take (or renew) the lease ``name`` for ``duration``; None if someone else holds it."""
        async with self._tx() as conn:
            now = database_now(conn)
            insert = upsert_insert(conn)(leases)
            taken = await conn.execute(
                insert.values(name=name, owner=owner, until=database_now(conn, duration))
                .on_conflict_do_update(
                    index_elements=["name"],
                    set_={"owner": insert.excluded.owner, "until": insert.excluded.until},
                    # Only an expired lease, or our own, changes hands.
                    where=(leases.c.until <= now) | (leases.c.owner == owner),
                )
                .returning(leases.c.until)
            )
            row = taken.first()
        if row is None:
            return None
        until = _utc(row[0])
        self._check_skew(until - duration)
        return Lease(name, owner, until - duration, until)

    def _check_skew(self, database_time: dt.datetime) -> None:
        skew = (self._clock.now() - database_time).total_seconds()
        if abs(skew) > SKEW_WARNING.total_seconds() and not self._skew_told:
            self._skew_told = True
            log.warning(
                "this instance's clock is %.1f s %s the database's; leases use the "
                "database's, but check the host's time synchronisation",
                abs(skew),
                "ahead of" if skew > 0 else "behind",
            )


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive UTC; PostgreSQL an aware time.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Tick = Callable[[], Awaitable[Any]]


async def every(
    interval: dt.timedelta,
    name: str,
    tick: Tick,
    *,
    leases: SqlLeases,
    owner: str,
) -> None:
    """Run ``tick`` every ``interval``, in one instance per period (the lease's holder).

    The lease lasts a little less than the period, so the holder's next tick can
    renew it while another instance's tick in the same period cannot take it.
    """
    seconds = interval.total_seconds()
    duration = dt.timedelta(seconds=seconds * 0.9)
    while True:
        try:
            lease = await leases.take(name, owner, duration)
            if lease is not None:
                # Ids and times only: which instance had which period (the scale-out test
                # reads these lines to show the periods never overlap).
                log.debug(
                    "periodic %s: run by %s for %.3f..%.3f",
                    name,
                    owner,
                    lease.start.timestamp(),
                    lease.until.timestamp(),
                )
                await tick()
        except Exception as exc:  # the loop must survive a database hiccup
            log.error("%s failed: %s", name, type(exc).__name__)
        await asyncio.sleep(seconds)


class SecondProcess(RuntimeError):
    """Another process already runs jobs on this SQLite database."""


class SingleRunnerLock:
    """An exclusive lock beside a SQLite database: one process runs its jobs and periodic work.

    SQLite has no row locks across processes the way PostgreSQL has; two bots on one
    file would both think they own the work. ``acquire`` fails with ``SecondProcess``
    (and a message saying what to do) when another process holds it.
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".runner.lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``SecondProcess``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SecondProcess(
                f"another Mamoru process already runs jobs on this SQLite database "
                f"({self.path.name}). SQLite is for one instance only: stop the other "
                f"process, or use PostgreSQL (MAMORU_DATABASE_URL) to run several."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Let another process run the jobs."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
