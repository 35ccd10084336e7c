"""The SQL ``JobQueue`` on the store's ``Engines`` (SQLite or PostgreSQL).

Claiming is one write transaction: find the next due row and lease it. On PostgreSQL
the SELECT takes ``FOR UPDATE SKIP LOCKED``, so several bot instances claim different
rows without waiting on each other; on SQLite the write transaction is ``BEGIN
IMMEDIATE`` (see ``bot.store.engine``) behind this process's write lock, so claims are
serialized, exactly as ``SqlStore`` serializes its writes. Every later write is an
UPDATE conditioned on ``state = running AND lease_owner = worker``: a worker that lost
its lease changes nothing. Leases are measured on the database's clock (``now()``), so
instances whose clocks disagree never both hold a job; ``run_after`` (when a queued job
is due) stays on the instance's clock, where a skew only delays a retry a little. Logs
carry ids, kinds, states and counts only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import Row, and_, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.errors import InvalidJobSpec, JobNotFound, LeaseLost
from bot.domain.jobs import (
    MAX_KEY_LENGTH,
    Job,
    JobSpec,
    JobState,
    checkpoint_object,
    resume_fields,
    short_error,
)
from bot.domain.ports import Clock, SystemClock
from bot.jobs.outbox import SqlOutbox
from bot.store.engine import Engines, create_engines, database_now, upsert_insert
from bot.store.job_rows import dumps as _dumps
from bot.store.job_rows import job_from_row as _job
from bot.store.job_rows import job_values
from bot.store.tables import job_once_keys, jobs

log = logging.getLogger(__name__)

_RUNNING = str(JobState.RUNNING)
_QUEUED = str(JobState.QUEUED)


def _uninterruptible[**P, T](
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Run a write to its end even if the caller is cancelled (the caller still is).

    The runner cancels handlers on stop; cut in the middle of a transaction, aiosqlite
    can keep SQLite's write lock, and the release that follows would wait for it in vain.
    """

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.ensure_future(method(*args, **kwargs))
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    return wrapper


def _retrieve(task: asyncio.Future[Any]) -> None:
    # The caller may be gone: read the outcome so asyncio does not report it as lost.
    if not task.cancelled():
        task.exception()


class SqlJobQueue(SqlOutbox):
    """``JobQueue`` on SQLAlchemy async, sharing the store's engines."""

    def __init__(
        self,
        engines: Engines,
        *,
        clock: Clock | None = None,
        write_lock: asyncio.Lock | None = None,
        owns_engines: bool = False,
        lease_clock: Clock | None = None,
    ) -> None:
        self._engines = engines
        self._clock = clock or SystemClock()
        # Leases: the database's clock (shared by all instances), unless a test drives
        # them with a clock of its own.
        self._lease_clock = lease_clock
        # SQLite allows one writer: queue this process's writers here rather than spin on
        # the file lock. Pass the store's lock to share one queue with it.
        self._write_lock = write_lock or asyncio.Lock()
        self._owns_engines = owns_engines

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock | None = None,
        lease_clock: Clock | None = None,
        **engine_kwargs: Any,
    ) -> SqlJobQueue:
        """A queue with its own engines on the database at ``url`` (migrated beforehand)."""
        return cls(
            create_engines(url, **engine_kwargs),
            clock=clock,
            owns_engines=True,
            lease_clock=lease_clock,
        )

    async def close(self) -> None:
        """Release connections, if the engines are ours."""
        if self._owns_engines:
            await self._engines.dispose()

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        async with self._engines.transaction(self._write_lock) as conn:
            yield conn

    def _reader(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._engines.read.connect()

    def _now(self) -> dt.datetime:
        return self._clock.now().astimezone(dt.UTC)

    def _lease_time(self, conn: AsyncConnection, plus: dt.timedelta = dt.timedelta(0)) -> Any:
        """Now (plus ``plus``) on the clock leases are measured on: a SQL expression."""
        if self._lease_clock is not None:
            return self._lease_clock.now().astimezone(dt.UTC) + plus
        return database_now(conn, plus)

    @staticmethod
    def _insert(conn: AsyncConnection) -> Any:
        return upsert_insert(conn)

    # --- producing

    @_uninterruptible
    async def enqueue(self, spec: JobSpec) -> Job:
        """Queue ``spec`` now; the same idempotency key returns the existing job."""
        now = self._now()
        job = Job.new(uuid.uuid4().hex, spec, at=now)
        async with self._tx() as conn:
            # ON CONFLICT DO NOTHING: a concurrent enqueue of the same key waits for the
            # winner's commit and then inserts nothing; both then read the winner's row.
            inserted = await conn.execute(
                self._insert(conn)(jobs)
                .values(**job_values(job))
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(jobs.c.id)
            )
            created = inserted.first() is not None
            row = (
                await conn.execute(
                    select(jobs).where(jobs.c.idempotency_key == spec.idempotency_key)
                )
            ).one()
        if created:
            log.info("job %s (%s) queued for incident %s", job.id, job.kind, job.incident_id)
        return _job(row)

    @_uninterruptible
    async def cancel(self, job_id: str) -> Job:
        """Cancel the job unless it has finished (then it is returned unchanged)."""
        now = self._now()
        finished = [str(s) for s in JobState if s.finished]
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.state.not_in(finished))
                    .values(
                        state=str(JobState.CANCELLED),
                        lease_owner=None,
                        lease_until=None,
                        updated_at=now,
                        finished_at=now,
                    )
                    .returning(*jobs.c)
                )
            ).one_or_none()
            if row is None:
                row = await self._row(conn, job_id)
            else:
                log.info("job %s cancelled", job_id)
        return _job(row)

    # --- working

    @_uninterruptible
    async def claim(self, worker_id: str, *, lease: dt.timedelta) -> Job | None:
        """The next due job (or one whose lease expired), leased to ``worker_id``."""
        now = self._now()

        def due(conn: AsyncConnection) -> Any:
            return or_(
                and_(jobs.c.state == _QUEUED, jobs.c.run_after <= now),
                and_(
                    jobs.c.state == _RUNNING,
                    or_(jobs.c.lease_until.is_(None), jobs.c.lease_until <= self._lease_time(conn)),
                ),
            )

        # Idle polls are the common case: answer them with a plain read, so an idle runner
        # never takes SQLite's write lock (nor row locks on PostgreSQL).
        async with self._engines.read.connect() as conn:
            if (await conn.execute(select(jobs.c.id).where(due(conn)).limit(1))).first() is None:
                return None
        async with self._tx() as conn:
            # SKIP LOCKED: another instance claiming a row right now is not waited for;
            # SQLite ignores FOR UPDATE (its write transaction is already exclusive).
            job_id = (
                await conn.execute(
                    select(jobs.c.id)
                    .where(due(conn))
                    .order_by(jobs.c.run_after, jobs.c.created_at, jobs.c.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).scalar_one_or_none()
            if job_id is None:
                return None
            row = (
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(
                        state=_RUNNING,
                        attempts=jobs.c.attempts + 1,
                        wait_reason=None,
                        lease_owner=worker_id,
                        lease_until=self._lease_time(conn, lease),
                        updated_at=now,
                    )
                    .returning(*jobs.c)
                )
            ).one()
        return _job(row)

    @_uninterruptible
    async def _owned_update(
        self, job_id: str, worker_id: str, *, lease: dt.timedelta | None = None, **values: Any
    ) -> Row[Any]:
        """UPDATE the job if ``worker_id`` holds it; ``LeaseLost`` or ``JobNotFound``.

        ``lease``: extend the lease by that much from now (the lease clock's now).
        """
        async with self._tx() as conn:
            if lease is not None:
                values["lease_until"] = self._lease_time(conn, lease)
            row = (
                await conn.execute(
                    update(jobs)
                    .where(
                        jobs.c.id == job_id,
                        jobs.c.state == _RUNNING,
                        jobs.c.lease_owner == worker_id,
                    )
                    .values(**values)
                    .returning(*jobs.c)
                )
            ).one_or_none()
            if row is None:
                await self._row(conn, job_id)  # JobNotFound if it does not exist at all
                raise LeaseLost(job_id, worker_id)
            return row

    async def heartbeat(self, job_id: str, worker_id: str, lease: dt.timedelta) -> bool:
        """Extend the lease; ``False`` if ``worker_id`` no longer holds it."""
        now = self._now()
        try:
            await self._owned_update(job_id, worker_id, lease=lease, updated_at=now)
        except LeaseLost:
            return False
        return True

    async def save_progress(
        self,
        job_id: str,
        worker_id: str,
        done: int,
        total: int,
        checkpoint: Mapping[str, Any],
        *,
        lease: dt.timedelta | None = None,
    ) -> None:
        """Record progress and the resume point; raises ``LeaseLost``."""
        saved = checkpoint_object(checkpoint)
        now = self._now()
        values: dict[str, Any] = {
            "progress_done": done,
            "progress_total": total,
            "checkpoint": _dumps(saved),
            "updated_at": now,
            # Headway resets the crash counter: a job killed again and again but advancing
            # each time is never given up (only one that dies without progress is).
            "attempts": case((jobs.c.progress_done < done, 1), else_=jobs.c.attempts),
        }
        await self._owned_update(job_id, worker_id, lease=lease, **values)

    async def complete(self, job_id: str, worker_id: str) -> Job:
        """Mark the job succeeded; raises ``LeaseLost``."""
        now = self._now()
        row = await self._owned_update(
            job_id,
            worker_id,
            state=str(JobState.SUCCEEDED),
            lease_owner=None,
            lease_until=None,
            updated_at=now,
            finished_at=now,
        )
        return _job(row)

    async def fail(
        self,
        job_id: str,
        worker_id: str,
        error: str,
        *,
        retry_at: dt.datetime | None,
        wait_reason: str | None = None,
    ) -> Job:
        """Record ``error``; queue again at ``retry_at`` or fail for good; ``LeaseLost``.

        With ``wait_reason`` (a transient fault) the attempt is given back: waiting out
        throttling or a dropped connection never uses up the job's attempts.
        """
        now = self._now()
        values: dict[str, Any] = {
            "last_error": short_error(error),
            "lease_owner": None,
            "lease_until": None,
            "updated_at": now,
            "wait_reason": None,
        }
        if retry_at is None:
            values.update(state=str(JobState.FAILED), finished_at=now)
        else:
            values.update(state=_QUEUED, run_after=retry_at.astimezone(dt.UTC))
            if wait_reason is not None:
                values.update(wait_reason=short_error(wait_reason), attempts=jobs.c.attempts - 1)
        return _job(await self._owned_update(job_id, worker_id, **values))

    @_uninterruptible
    async def resume(self, job_id: str) -> Job:
        """Queue a failed or cancelled job again, from its checkpoint, with fresh attempts.

        Same row, same idempotency key: what it already did is not done again (the
        handler resumes from its checkpoint; once-markers still hold). A job in any
        other state is returned unchanged.
        """
        now = self._now()
        resumable = [str(JobState.FAILED), str(JobState.CANCELLED)]
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.state.in_(resumable))
                    .values(
                        state=_QUEUED,
                        **resume_fields(now),
                    )
                    .returning(*jobs.c)
                )
            ).one_or_none()
            if row is None:
                return _job(await self._row(conn, job_id))
        log.info("job %s resumed", job_id)
        return _job(row)

    async def release(self, job_id: str, worker_id: str) -> Job:
        """Give the job back, due now, with the interrupted attempt refunded; ``LeaseLost``."""
        now = self._now()
        row = await self._owned_update(
            job_id,
            worker_id,
            state=_QUEUED,
            # The attempt was cut short by our shutdown, not by the job: don't count it.
            attempts=jobs.c.attempts - 1,
            run_after=now,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
        return _job(row)

    @_uninterruptible
    async def mark_once(self, key: str) -> bool:
        """``True`` only the first time ``key`` is marked (the primary key decides)."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidJobSpec(f"once-keys must be 1..{MAX_KEY_LENGTH} characters")
        async with self._tx() as conn:
            inserted = await conn.execute(
                self._insert(conn)(job_once_keys)
                .values(key=key, created_at=self._now())
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(job_once_keys.c.key)
            )
            return inserted.first() is not None

    # --- reading

    async def _row(self, conn: AsyncConnection, job_id: str) -> Row[Any]:
        row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).one_or_none()
        if row is None:
            raise JobNotFound(job_id)
        return row

    async def get(self, job_id: str) -> Job:
        """The job; raises ``JobNotFound``."""
        async with self._engines.reading() as conn:
            return _job(await self._row(conn, job_id))

    async def jobs_for_incident(self, incident_id: str) -> list[Job]:
        """The incident's jobs, oldest first."""
        query = (
            select(jobs)
            .where(jobs.c.incident_id == incident_id)
            .order_by(jobs.c.created_at, jobs.c.id)
        )
        async with self._engines.reading() as conn:
            return [_job(r) for r in await conn.execute(query)]

    async def recent_jobs(self, *, limit: int = 50) -> list[Job]:
        """The most recently created jobs, newest first."""
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        async with self._engines.read.connect() as conn:
            return [_job(r) for r in await conn.execute(query)]
