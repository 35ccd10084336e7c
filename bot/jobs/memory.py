"""An in-memory ``JobQueue``: the fake for fast tests, with the SQL queue's semantics.

Same idempotency, claim order, lease checks and at-most-once markers; no persistence.
Params and checkpoints are copied through JSON on the way in and out, as the database
would, so a handler mutating its dict cannot change the stored job behind our back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.domain.errors import JobNotFound, LeaseLost
from bot.domain.jobs import (
    Job,
    JobSpec,
    JobState,
    OutboxMessage,
    checkpoint_object,
    json_copy,
    resume_fields,
    short_error,
)
from bot.domain.ports import Clock, SystemClock


class MemoryJobQueue:
    """``JobQueue`` held in dictionaries."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._jobs: dict[str, Job] = {}
        self._by_key: dict[str, str] = {}
        self._once: set[str] = set()
        self._outbox: dict[str, OutboxMessage] = {}
        # No await happens while it is held; it documents (and keeps) each method atomic.
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Nothing to release."""

    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def _owned(self, job_id: str, worker_id: str) -> Job:
        job = self._job(job_id)
        if not job.owned_by(worker_id):
            raise LeaseLost(job_id, worker_id)
        return job

    def _put(self, job: Job) -> Job:
        self._jobs[job.id] = job
        return _copy(job)

    async def enqueue(self, spec: JobSpec) -> Job:
        """Queue ``spec`` now; the same idempotency key returns the existing job."""
        async with self._lock:
            existing = self._by_key.get(spec.idempotency_key)
            if existing is not None:
                return _copy(self._jobs[existing])
            job = Job.new(uuid.uuid4().hex, spec, at=self._clock.now())
            self._by_key[spec.idempotency_key] = job.id
            return self._put(job)

    async def claim(self, worker_id: str, *, lease: dt.timedelta) -> Job | None:
        """The next due job (or one whose lease expired), leased to ``worker_id``."""
        async with self._lock:
            now = self._clock.now()
            due = [j for j in self._jobs.values() if j.claimable(now)]
            if not due:
                return None
            job = min(due, key=lambda j: (j.run_after, j.created_at, j.id))
            return self._put(
                replace(
                    job,
                    state=JobState.RUNNING,
                    attempts=job.attempts + 1,
                    wait_reason=None,
                    lease_owner=worker_id,
                    lease_until=now + lease,
                    updated_at=now,
                )
            )

    async def heartbeat(self, job_id: str, worker_id: str, lease: dt.timedelta) -> bool:
        """Extend the lease; ``False`` if ``worker_id`` no longer holds it."""
        async with self._lock:
            job = self._job(job_id)
            if not job.owned_by(worker_id):
                return False
            now = self._clock.now()
            self._put(replace(job, lease_until=now + lease, updated_at=now))
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
        async with self._lock:
            job = self._owned(job_id, worker_id)
            now = self._clock.now()
            until = now + lease if lease is not None else job.lease_until
            self._put(
                replace(
                    job,
                    progress_done=done,
                    progress_total=total,
                    checkpoint=saved,
                    attempts=1 if done > job.progress_done else job.attempts,
                    lease_until=until,
                    updated_at=now,
                )
            )

    async def complete(self, job_id: str, worker_id: str) -> Job:
        """Mark the job succeeded; raises ``LeaseLost``."""
        async with self._lock:
            job = self._owned(job_id, worker_id)
            now = self._clock.now()
            return self._put(
                replace(
                    job,
                    state=JobState.SUCCEEDED,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                    finished_at=now,
                )
            )

    async def fail(
        self,
        job_id: str,
        worker_id: str,
        error: str,
        *,
        retry_at: dt.datetime | None,
        wait_reason: str | None = None,
    ) -> Job:
        """Record ``error``; queue again at ``retry_at`` or fail for good; ``LeaseLost``."""
        async with self._lock:
            job = self._owned(job_id, worker_id)
            now = self._clock.now()
            final = retry_at is None
            waiting = not final and wait_reason is not None
            return self._put(
                replace(
                    job,
                    state=JobState.FAILED if final else JobState.QUEUED,
                    attempts=job.attempts - 1 if waiting else job.attempts,
                    wait_reason=short_error(wait_reason) if waiting and wait_reason else None,
                    last_error=short_error(error),
                    run_after=job.run_after if retry_at is None else retry_at,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                    finished_at=now if final else None,
                )
            )

    async def release(self, job_id: str, worker_id: str) -> Job:
        """Give the job back, due now, with the interrupted attempt refunded; ``LeaseLost``."""
        async with self._lock:
            job = self._owned(job_id, worker_id)
            now = self._clock.now()
            return self._put(
                replace(
                    job,
                    state=JobState.QUEUED,
                    attempts=max(job.attempts - 1, 0),
                    run_after=now,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )

    async def cancel(self, job_id: str) -> Job:
        """Cancel the job unless it has finished (then it is returned unchanged)."""
        async with self._lock:
            job = self._job(job_id)
            if job.state.finished:
                return _copy(job)
            now = self._clock.now()
            return self._put(
                replace(
                    job,
                    state=JobState.CANCELLED,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                    finished_at=now,
                )
            )

    async def resume(self, job_id: str) -> Job:
        """Queue a failed or cancelled job again from its checkpoint (else unchanged)."""
        async with self._lock:
            job = self._job(job_id)
            if job.state not in (JobState.FAILED, JobState.CANCELLED):
                return _copy(job)
            now = self._clock.now()
            return self._put(
                replace(
                    job,
                    state=JobState.QUEUED,
                    **resume_fields(now),
                )
            )

    async def get(self, job_id: str) -> Job:
        """The job; raises ``JobNotFound``."""
        return _copy(self._job(job_id))

    async def jobs_for_incident(self, incident_id: str) -> list[Job]:
        """The incident's jobs, oldest first."""
        found = [j for j in self._jobs.values() if j.incident_id == incident_id]
        return [_copy(j) for j in sorted(found, key=lambda j: (j.created_at, j.id))]

    async def recent_jobs(self, *, limit: int = 50) -> list[Job]:
        """The most recently created jobs, newest first."""
        ordered = sorted(self._jobs.values(), key=lambda j: (j.created_at, j.id), reverse=True)
        return [_copy(j) for j in ordered[:limit]]

    async def mark_once(self, key: str) -> bool:
        """``True`` only the first time ``key`` is marked."""
        async with self._lock:
            if key in self._once:
                return False
            self._once.add(key)
            return True

    # --- the notice outbox

    def _now_utc(self) -> dt.datetime:
        return self._clock.now().astimezone(dt.UTC)

    async def outbox_add(
        self, message: OutboxMessage, owner: str, lease: dt.timedelta
    ) -> OutboxMessage | None:
        """Store ``message`` leased to ``owner``; None if its key was stored before."""
        async with self._lock:
            if message.key in self._outbox:
                return None
            now = self._now_utc()
            stored = replace(
                message,
                cards=json_copy(message.cards),
                attempts=1,
                lease_owner=owner,
                lease_until=now + lease,
                created_at=now,
                sent_at=None,
                outcome=None,
            )
            self._outbox[message.key] = stored
            return stored

    async def outbox_claim(
        self, owner: str, lease: dt.timedelta, *, limit: int = 50
    ) -> list[OutboxMessage]:
        """Lease to ``owner`` the undelivered messages nobody holds (their sender died)."""
        async with self._lock:
            now = self._now_utc()
            due = [m for m in self._outbox.values() if m.claimable(now)]
            due.sort(key=lambda m: (m.created_at or now, m.key))
            taken = []
            for message in due[:limit]:
                message = replace(
                    message,
                    attempts=message.attempts + 1,
                    lease_owner=owner,
                    lease_until=now + lease,
                )
                self._outbox[message.key] = message
                taken.append(message)
            return taken

    async def outbox_done(self, key: str, owner: str, outcome: str) -> bool:
        """Record the outcome if ``owner`` still holds the message; False if it lost it."""
        async with self._lock:
            message = self._outbox.get(key)
            if message is None or message.outcome is not None or message.lease_owner != owner:
                return False
            now = self._now_utc()
            self._outbox[key] = replace(
                message, outcome=outcome, sent_at=now, lease_owner=None, lease_until=None
            )
            return True

    async def outbox_retry(self, key: str, owner: str, after: dt.timedelta) -> bool:
        """A send failed: give the message up, to be taken again ``after`` from now."""
        async with self._lock:
            message = self._outbox.get(key)
            if message is None or message.outcome is not None or message.lease_owner != owner:
                return False
            until = self._now_utc() + after
            self._outbox[key] = replace(message, lease_owner=None, lease_until=until)
            return True

    async def outbox_for_incident(self, incident_id: str) -> list[OutboxMessage]:
        """The case's messages, oldest first."""
        found = [m for m in self._outbox.values() if m.incident_id == incident_id]
        return sorted(found, key=lambda m: (m.created_at or dt.datetime.min, m.key))


def _copy(job: Job) -> Job:
    return replace(job, params=json_copy(job.params), checkpoint=json_copy(job.checkpoint))
