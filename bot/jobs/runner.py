"""The job runner: claims jobs, runs their handlers under a lease, retries, resumes.

A handler is ``async def handler(job, ctx)``. It works in steps and calls
``ctx.progress(done, total, checkpoint)`` after each one; on a restart (crash, deploy,
lease taken over) the next run starts from ``ctx.checkpoint``. Steps must therefore be
idempotent, and a non-idempotent effect (sendMail) goes behind ``ctx.mark_once(key)``
called BEFORE the effect. See docs/jobs.md for the whole argument.

Outcomes (``bot.jobs.faults`` classifies): return → succeeded; a transient fault
(database connection or lock, Graph throttling/unavailable, network, a permission
still propagating) → queued again with a wait reason after a
backoff (Graph's Retry-After if longer), without using up an attempt, until the job's
deadline; a permanent fault (``PermanentJobError``, a missing mailbox, a malformed
value) → failed at once; ``RetryableJobError`` or anything else → retried after a backoff until
``max_attempts``, then failed. Progress resets the attempt count, so a job that is
killed again and again but advances each time is never given up. Errors are recorded
as short codes (never messages). Logs carry job ids, kinds, states and counts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.domain.errors import LeaseLost
from bot.domain.jobs import Job, checkpoint_object
from bot.domain.ports import Clock, JobQueue, SystemClock
from bot.jobs.faults import Fault, FaultKind, classify

log = logging.getLogger(__name__)

JobListener = Callable[[Job], Awaitable[None]]


def default_worker_id() -> str:
    """A worker id unique to this runner: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: ``base * 2**(attempt-1)`` capped at ``max``, minus jitter."""

    base_seconds: float = 5.0
    max_seconds: float = 600.0
    jitter: float = 0.5  # fraction of the delay that may be taken off at random

    def delay(self, attempt: int, rng: random.Random) -> dt.timedelta:
        """How long to wait after failed attempt number ``attempt`` (1-based)."""
        capped = min(self.max_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        # Jitter spreads the retries of jobs that failed together (a throttled mailbox).
        return dt.timedelta(seconds=capped * (1 - self.jitter * rng.random()))


class JobContext:
    """What a handler gets besides its job: progress saving, its checkpoint, markers."""

    def __init__(
        self, queue: JobQueue, job: Job, worker_id: str, lease: dt.timedelta, notify: JobListener
    ) -> None:
        self._queue = queue
        self._job = job
        self._worker_id = worker_id
        self._lease = lease
        self._notify = notify

    @property
    def worker_id(self) -> str:
        """The id this runner claims jobs under."""
        return self._worker_id

    @property
    def checkpoint(self) -> dict[str, Any]:
        """The last saved checkpoint ({} on a first run): where to resume."""
        return checkpoint_object(self._job.checkpoint)

    @property
    def job(self) -> Job:
        """The job as of the last progress saved."""
        return self._job

    async def progress(
        self, done: int, total: int, checkpoint: Mapping[str, Any] | None = None
    ) -> None:
        """Save progress and the resume point, extending the lease; raises ``LeaseLost``."""
        saved = self._job.checkpoint if checkpoint is None else checkpoint_object(checkpoint)
        await self._queue.save_progress(
            self._job.id, self._worker_id, done, total, saved, lease=self._lease
        )
        self._job = replace(self._job, progress_done=done, progress_total=total, checkpoint=saved)
        await self._notify(self._job)

    async def heartbeat(self) -> None:
        """Extend the lease without progress; raises ``LeaseLost`` if it was taken."""
        if not await self._queue.heartbeat(self._job.id, self._worker_id, self._lease):
            raise LeaseLost(self._job.id, self._worker_id)

    async def mark_once(self, key: str) -> bool:
        """``True`` only for the first caller ever: call it BEFORE a non-idempotent effect."""
        return await self._queue.mark_once(key)


JobHandler = Callable[[Job, JobContext], Awaitable[None]]


class JobRunner:
    """Runs the handlers of claimed jobs, one at a time, in a background task or on demand."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, JobHandler],
        *,
        clock: Clock | None = None,
        worker_id: str | None = None,
        poll_interval: float = 1.0,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        heartbeat_interval: float | None = None,
        max_attempts: int = 5,
        backoff: Backoff | None = None,
        stop_timeout: float = 10.0,
        release_timeout: float = 5.0,
        on_change: JobListener | None = None,
        rng: random.Random | None = None,
        deadline: dt.timedelta = dt.timedelta(hours=24),
        permission_window: dt.timedelta = dt.timedelta(hours=2),
        wait_backoff: Backoff | None = None,
        before_claim: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._queue = queue
        self._handlers = dict(handlers)
        self._clock = clock or SystemClock()
        self.worker_id = worker_id or default_worker_id()
        self._poll_interval = poll_interval
        self._lease = lease
        # A third of the lease: two heartbeats may be lost before another worker may take over.
        self._heartbeat_interval = heartbeat_interval or lease.total_seconds() / 3
        self._max_attempts = max_attempts
        self._backoff = backoff or Backoff()
        self._stop_timeout = stop_timeout
        # After stop_timeout: how long a cancelled handler gets to unwind and release.
        self._release_timeout = release_timeout
        self._on_change = on_change
        self._rng = rng or random.Random()
        # Transient faults: how long a job may keep waiting in total (from its approval or
        # its last resumption), and how long a 403 counts as a permission still propagating.
        self._deadline = deadline
        self._permission_window = permission_window
        self._wait_backoff = wait_backoff or Backoff(base_seconds=5.0, max_seconds=600.0)
        self._waits: dict[str, int] = {}  # consecutive waits per job: the backoff's exponent
        # Awaited before each claim by the polling loop: the server lets the answers Teams
        # waits for go first (bot.background.Foreground.quiet, bounded).
        self._before_claim = before_claim
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._handler_task: asyncio.Task[None] | None = None
        self._releasing = False
        self._lease_lost = False

    # --- lifecycle

    def start(self) -> None:
        """Start polling in a background task (call from a running event loop)."""
        if self._loop_task is not None and not self._loop_task.done():
            return
        self._stopping.clear()
        self._loop_task = asyncio.create_task(self._loop(), name=f"jobs:{self.worker_id}")
        log.info("job runner %s started (%d kinds)", self.worker_id, len(self._handlers))

    async def stop(self, timeout: float | None = None) -> None:
        """Stop polling; let the current job finish within ``timeout``, else release it."""
        task = self._loop_task
        if task is None:
            return
        self._stopping.set()
        wait = self._stop_timeout if timeout is None else timeout
        done, _ = await asyncio.wait({task}, timeout=wait)
        if not done:
            # Too slow: interrupt the handler; _execute gives the job back (release).
            self._releasing = True
            if self._handler_task is not None:
                self._handler_task.cancel()
            done, _ = await asyncio.wait({task}, timeout=self._release_timeout)
        self._loop_task = None
        if not done:
            # A handler that ignores cancellation: leave it; its lease will expire and
            # another instance resumes the job from its checkpoint.
            log.warning("job runner %s: handler did not stop, abandoned", self.worker_id)
            return
        self._releasing = False
        with contextlib.suppress(asyncio.CancelledError):
            task.result()
        log.info("job runner %s stopped", self.worker_id)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._before_claim is not None:
                    await self._before_claim()
                job = await self._queue.claim(self.worker_id, lease=self._lease)
                if job is not None and self._stopping.is_set():
                    # stop() came while we were claiming: hand it back untouched.
                    await self._queue.release(job.id, self.worker_id)
                    return
                if job is not None:
                    await self._run(job)
            except Exception as exc:  # a database hiccup must not end the loop
                log.warning("job runner %s: poll failed (%s)", self.worker_id, type(exc).__name__)
                job = None
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._poll_interval)

    # --- running

    async def run_once(self) -> Job | None:
        """Claim and run one due job; the job as it ended, or None if none was due."""
        job = await self._queue.claim(self.worker_id, lease=self._lease)
        return None if job is None else await self._run(job)

    async def run_until_idle(self, *, max_jobs: int = 10_000) -> int:
        """Run due jobs until none is left (for tests and CLI); returns how many ran."""
        count = 0
        while count < max_jobs and await self.run_once() is not None:
            count += 1
        return count

    async def _run(self, job: Job) -> Job:
        log.info("job %s (%s) claimed, attempt %d", job.id, job.kind, job.attempts)
        await self._notify(job)
        return await self._execute(job)

    async def _execute(self, job: Job) -> Job:
        handler = self._handlers.get(job.kind)
        if handler is None:
            return await self._finish(job, "unknown_kind", retry=False)
        if job.attempts > self._max_attempts:
            # Reclaimed after its workers kept dying (lease expiry): stop the crash loop.
            return await self._finish(job, "max_attempts_exceeded", retry=False)
        context = JobContext(self._queue, job, self.worker_id, self._lease, self._notify)
        task = asyncio.create_task(_call(handler, job, context), name=f"job:{job.id}")
        self._handler_task = task
        self._lease_lost = False
        beat = asyncio.create_task(self._heartbeats(job, task))
        try:
            await asyncio.shield(task)
        except LeaseLost:
            log.warning("job %s (%s): lease lost, left to its new owner", job.id, job.kind)
            return await self._queue.get(job.id)
        except asyncio.CancelledError:
            return await self._cancelled(context.job, task)
        except Exception as exc:
            # Recorded as a short code: exception messages may quote mail or user text.
            fault = classify(
                exc,
                job=context.job,
                now=self._clock.now(),
                permission_window=self._permission_window,
            )
            return await self._fault(context.job, fault)
        finally:
            beat.cancel()
            self._handler_task = None
        self._waits.pop(job.id, None)
        return await self._complete(context.job)

    async def _fault(self, job: Job, fault: Fault) -> Job:
        if fault.kind is FaultKind.PERMANENT:
            self._waits.pop(job.id, None)
            return await self._finish(job, fault.reason, retry=False)
        if fault.kind is FaultKind.RETRY:
            return await self._finish(job, fault.reason, retry=True)
        now = self._clock.now()
        deadline = job.window_start + self._deadline
        if now >= deadline:
            self._waits.pop(job.id, None)
            return await self._finish(job, f"deadline:{fault.reason}", retry=False)
        waits = self._waits.get(job.id, 0) + 1
        self._waits[job.id] = waits
        delay = self._wait_backoff.delay(waits, self._rng)
        if fault.retry_after is not None:
            delay = max(delay, dt.timedelta(seconds=fault.retry_after))
        retry_at = min(now + delay, deadline)
        try:
            waiting = await self._queue.fail(
                job.id, self.worker_id, fault.reason, retry_at=retry_at, wait_reason=fault.reason
            )
        except LeaseLost:
            return await self._queue.get(job.id)
        log.info(
            "job %s (%s) waiting: %s (next try in %.0f s)",
            job.id,
            job.kind,
            fault.reason,
            (retry_at - now).total_seconds(),
        )
        await self._notify(waiting)
        return waiting

    async def _cancelled(self, job: Job, task: asyncio.Task[None]) -> Job:
        """The handler was interrupted: by stop() (release the job) or with our own task."""
        current = asyncio.current_task()
        ours = current is not None and current.cancelling() > 0
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._lease_lost and not ours:
            return await self._queue.get(job.id)
        if not (self._releasing or ours):
            # Cancelled from inside (the handler cancelled itself): a failure like any other.
            return await self._finish(job, "CancelledError", retry=False)
        try:
            released = await self._queue.release(job.id, self.worker_id)
        except LeaseLost:
            released = await self._queue.get(job.id)
        log.info("job %s (%s) released at %d done", job.id, job.kind, released.progress_done)
        await self._notify(released)
        if ours:
            raise asyncio.CancelledError
        return released

    async def _heartbeats(self, job: Job, task: asyncio.Task[None]) -> None:
        """Keep the lease while the handler waits on something slow; stop it if lost."""
        while not task.done():
            await asyncio.sleep(self._heartbeat_interval)
            try:
                held = await self._queue.heartbeat(job.id, self.worker_id, self._lease)
            except Exception as exc:  # a missed beat is retried; expiry is the real limit
                log.warning("job %s: heartbeat failed (%s)", job.id, type(exc).__name__)
                continue
            if not held:
                log.warning("job %s (%s): lease lost, stopping its handler", job.id, job.kind)
                self._lease_lost = True
                task.cancel()
                return

    async def _complete(self, job: Job) -> Job:
        try:
            done = await self._queue.complete(job.id, self.worker_id)
        except LeaseLost:
            log.warning("job %s (%s): lease lost before completion", job.id, job.kind)
            return await self._queue.get(job.id)
        log.info("job %s (%s) succeeded after %d attempt(s)", job.id, job.kind, done.attempts)
        await self._notify(done)
        return done

    async def _finish(self, job: Job, code: str, *, retry: bool) -> Job:
        retry_at = None
        if retry and job.attempts < self._max_attempts:
            retry_at = self._clock.now() + self._backoff.delay(job.attempts, self._rng)
        try:
            ended = await self._queue.fail(job.id, self.worker_id, code, retry_at=retry_at)
        except LeaseLost:
            log.warning("job %s (%s): lease lost before recording %s", job.id, job.kind, code)
            return await self._queue.get(job.id)
        if retry_at is None:
            log.warning("job %s (%s) failed: %s (attempt %d)", job.id, job.kind, code, job.attempts)
        else:
            log.info(
                "job %s (%s) will retry: %s (attempt %d)", job.id, job.kind, code, job.attempts
            )
        await self._notify(ended)
        return ended

    async def _notify(self, job: Job) -> None:
        if self._on_change is None:
            return
        try:
            await self._on_change(job)
        except Exception as exc:  # posting progress to Teams must never break the job
            log.warning("job %s: on_change failed (%s)", job.id, type(exc).__name__)


async def _call(handler: JobHandler, job: Job, context: JobContext) -> None:
    # create_task wants a coroutine; a handler may be any awaitable-returning callable.
    await handler(job, context)
