"""The runner on every backend: outcomes, retries, crash and resume, graceful stop."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

import pytest

from bot.domain.errors import PermanentJobError, RetryableJobError
from bot.domain.jobs import Job, JobSpec, JobState
from bot.domain.ports import JobQueue
from bot.jobs.runner import Backoff, JobContext, JobHandler, JobRunner
from tests.jobs.conftest import QueueBackend, until
from tests.jobs.fakes import Crash, FakeMailbox, archive_handler

LEASE = dt.timedelta(seconds=30)
NO_JITTER = Backoff(base_seconds=10, max_seconds=40, jitter=0)


def spec(key: str = "k", kind: str = "archive") -> JobSpec:
    """A job for one incident."""
    return JobSpec(kind, "KH-2026-0001", {"mailbox": "staff@city.example.jp"}, key)


def runner(
    qb: QueueBackend,
    handlers: Mapping[str, JobHandler],
    *,
    queue: JobQueue | None = None,
    **options: Any,
) -> JobRunner:
    """A runner on ``queue`` (default ``qb.queue``) with the fake clock and test timings."""
    settings: dict[str, Any] = {
        "clock": qb.clock,
        "lease": LEASE,
        "poll_interval": 0.001,
        "backoff": NO_JITTER,
        "max_attempts": 3,
    }
    settings.update(options)
    return JobRunner(queue or qb.queue, handlers, **settings)


async def test_success_reports_progress_to_the_listener(qb: QueueBackend) -> None:
    seen: list[tuple[JobState, int, int]] = []

    async def listen(job: Job) -> None:
        seen.append((job.state, job.progress_done, job.progress_total))

    async def handle(job: Job, ctx: JobContext) -> None:
        assert ctx.checkpoint == {} and ctx.worker_id == "w1"
        await ctx.progress(1, 2, {"step": 1})
        await ctx.progress(2, 2)

    job = await qb.queue.enqueue(spec())
    r = runner(qb, {"archive": handle}, worker_id="w1", on_change=listen)
    assert await r.run_until_idle() == 1
    done = await qb.queue.get(job.id)
    assert (done.state, done.progress_done, done.checkpoint) == (
        JobState.SUCCEEDED,
        2,
        {"step": 1},
    )
    assert seen == [
        (JobState.RUNNING, 0, 0),
        (JobState.RUNNING, 1, 2),
        (JobState.RUNNING, 2, 2),
        (JobState.SUCCEEDED, 2, 2),
    ]


async def test_a_failing_listener_does_not_break_the_job(qb: QueueBackend) -> None:
    async def listen(job: Job) -> None:
        raise RuntimeError("Teams is down")

    async def handle(job: Job, ctx: JobContext) -> None:
        await ctx.progress(1, 1)

    job = await qb.queue.enqueue(spec())
    await runner(qb, {"archive": handle}, on_change=listen).run_until_idle()
    assert (await qb.queue.get(job.id)).state is JobState.SUCCEEDED


async def test_retry_with_backoff_then_success(qb: QueueBackend) -> None:
    calls: list[int] = []

    async def handle(job: Job, ctx: JobContext) -> None:
        calls.append(job.attempts)
        if len(calls) < 3:
            raise RetryableJobError("throttled")

    job = await qb.queue.enqueue(spec())
    r = runner(qb, {"archive": handle})
    assert await r.run_until_idle() == 1
    first = await qb.queue.get(job.id)
    assert (first.state, first.last_error) == (JobState.QUEUED, "throttled")
    assert first.run_after == qb.clock.now() + dt.timedelta(seconds=10)
    qb.clock.advance(seconds=9)
    assert await r.run_until_idle() == 0  # not due yet
    qb.clock.advance(seconds=1)
    assert await r.run_until_idle() == 1
    second = await qb.queue.get(job.id)
    assert second.run_after == qb.clock.now() + dt.timedelta(seconds=20)  # doubled
    qb.clock.advance(seconds=20)
    assert await r.run_until_idle() == 1
    assert (await qb.queue.get(job.id)).state is JobState.SUCCEEDED
    assert calls == [1, 2, 3]


async def test_retries_end_in_failure_after_max_attempts(qb: QueueBackend) -> None:
    async def handle(job: Job, ctx: JobContext) -> None:
        raise RetryableJobError("throttled")

    job = await qb.queue.enqueue(spec())
    r = runner(qb, {"archive": handle}, max_attempts=2)
    await r.run_until_idle()
    qb.clock.advance(minutes=5)
    await r.run_until_idle()
    failed = await qb.queue.get(job.id)
    assert (failed.state, failed.attempts, failed.last_error) == (JobState.FAILED, 2, "throttled")
    qb.clock.advance(days=1)
    assert await r.run_until_idle() == 0


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(base_seconds=10, max_seconds=40, jitter=0.5)
    rng = random.Random(7)
    for attempt, (low, high) in enumerate([(5, 10), (10, 20), (20, 40), (20, 40)], start=1):
        for _ in range(50):
            assert low <= backoff.delay(attempt, rng).total_seconds() <= high


async def test_permanent_failure_records_the_code_only(qb: QueueBackend) -> None:
    async def permanent(job: Job, ctx: JobContext) -> None:
        raise PermanentJobError("mailbox_not_found")

    async def broken(job: Job, ctx: JobContext) -> None:
        raise ValueError("件名: 殺すぞ (a message quoting the sender)")

    a = await qb.queue.enqueue(spec("a", kind="permanent"))
    b = await qb.queue.enqueue(spec("b", kind="broken"))
    c = await qb.queue.enqueue(spec("c", kind="unknown"))
    r = runner(qb, {"permanent": permanent, "broken": broken})
    assert await r.run_until_idle() == 3
    results = [await qb.queue.get(j.id) for j in (a, b, c)]
    assert [(j.state, j.attempts, j.last_error) for j in results] == [
        (JobState.FAILED, 1, "mailbox_not_found"),
        (JobState.FAILED, 1, "ValueError"),
        (JobState.FAILED, 1, "unknown_kind"),
    ]


async def test_crash_midway_then_a_fresh_runner_finishes_exactly_once(
    qb: QueueBackend,
) -> None:
    mailbox = FakeMailbox(5000)
    mailbox.crash_at = 2345  # mid-batch: 45 moves after the last checkpoint (2300)
    job = await qb.queue.enqueue(spec())
    first = runner(qb, {"archive": archive_handler(mailbox)}, worker_id="w1")
    with pytest.raises(Crash):
        await first.run_once()
    crashed = await qb.queue.get(job.id)
    assert (crashed.state, crashed.lease_owner, crashed.progress_done) == (
        JobState.RUNNING,
        "w1",
        2300,
    )

    # A restarted bot: new queue (own connections), new runner, new worker id.
    second = runner(qb, {"archive": archive_handler(mailbox)}, worker_id="w2", queue=qb.another())
    assert await second.run_until_idle() == 0  # w1's lease has not expired yet
    qb.clock.advance(seconds=31)
    mailbox.listed_after.clear()
    assert await second.run_until_idle() == 1
    done = await qb.queue.get(job.id)
    assert (done.state, done.attempts, done.progress_done) == (JobState.SUCCEEDED, 2, 5000)
    assert mailbox.listed_after[0] == "m02299"  # resumed from the checkpoint
    assert mailbox.exactly_once


async def test_stop_midway_releases_and_a_fresh_runner_finishes_exactly_once(
    qb: QueueBackend,
) -> None:
    mailbox = FakeMailbox(5000)
    gate = asyncio.Event()
    archive = archive_handler(mailbox)

    async def slow_archive(job: Job, ctx: JobContext) -> None:
        if not ctx.checkpoint:
            original = ctx.progress

            async def progress(done: int, total: int, checkpoint: object = None) -> None:
                await original(done, total, checkpoint)  # type: ignore[arg-type]
                if done >= 1000:
                    await gate.wait()  # a slow Graph call when the bot is told to stop

            ctx.progress = progress  # type: ignore[method-assign]
        await archive(job, ctx)

    job = await qb.queue.enqueue(spec())
    first = runner(qb, {"archive": slow_archive}, worker_id="w1")
    first.start()
    await until(lambda: len(mailbox.archived) >= 1000)
    await first.stop(timeout=0.005)
    released = await qb.queue.get(job.id)
    assert (released.state, released.attempts, released.lease_owner) == (
        JobState.QUEUED,
        0,
        None,
    )
    second = runner(qb, {"archive": archive}, worker_id="w2", queue=qb.another())
    assert await second.run_until_idle() == 1  # no lease to wait for: it was released
    assert (await qb.queue.get(job.id)).state is JobState.SUCCEEDED
    assert mailbox.exactly_once


async def test_cancelling_the_runner_task_releases_the_job(qb: QueueBackend) -> None:
    started = asyncio.Event()

    async def hang(job: Job, ctx: JobContext) -> None:
        started.set()
        await asyncio.Event().wait()

    job = await qb.queue.enqueue(spec())
    task = asyncio.create_task(runner(qb, {"archive": hang}).run_once())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await qb.queue.get(job.id)).state is JobState.QUEUED


async def test_graceful_stop_lets_the_current_job_finish(qb: QueueBackend) -> None:
    started = asyncio.Event()

    async def quick(job: Job, ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(0.002)
        await ctx.progress(1, 1)

    job = await qb.queue.enqueue(spec())
    r = runner(qb, {"archive": quick})
    r.start()
    await started.wait()
    await r.stop(timeout=5)
    assert (await qb.queue.get(job.id)).state is JobState.SUCCEEDED
    later = await qb.queue.enqueue(spec("later"))
    await asyncio.sleep(0.005)
    assert (await qb.queue.get(later.id)).state is JobState.QUEUED  # nobody polls any more


async def test_a_worker_that_lost_its_lease_stops_at_its_next_progress(qb: QueueBackend) -> None:
    reached = asyncio.Event()
    resume = asyncio.Event()
    steps: list[str] = []

    async def handle(job: Job, ctx: JobContext) -> None:
        await ctx.progress(1, 3, {"after": 1})
        steps.append(f"{ctx.worker_id}:1")
        reached.set()
        await resume.wait()
        await ctx.progress(2, 3, {"after": 2})  # raises LeaseLost for the old owner
        steps.append(f"{ctx.worker_id}:2")

    job = await qb.queue.enqueue(spec())
    slow = runner(qb, {"archive": handle}, worker_id="w1", heartbeat_interval=3600)
    task = asyncio.create_task(slow.run_once())
    await reached.wait()
    qb.clock.advance(seconds=31)
    taker = await qb.another().claim("w2", lease=LEASE)
    assert taker is not None and taker.checkpoint == {"after": 1}
    resume.set()
    ended = await task
    assert ended is not None
    assert (ended.id, ended.state, ended.lease_owner) == (job.id, JobState.RUNNING, "w2")
    assert steps == ["w1:1"]


async def test_heartbeats_notice_a_cancelled_job_and_stop_the_handler(qb: QueueBackend) -> None:
    started = asyncio.Event()
    stopped = asyncio.Event()

    async def hang(job: Job, ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # waiting on a slow call, no progress to save
        finally:
            stopped.set()

    job = await qb.queue.enqueue(spec())
    r = runner(qb, {"archive": hang}, worker_id="w1", heartbeat_interval=0.02)
    task = asyncio.create_task(r.run_once())
    await started.wait()
    await qb.queue.cancel(job.id)  # a manager withdrew the approval
    ended = await asyncio.wait_for(task, 5)
    assert ended is not None and stopped.is_set()
    assert (ended.id, ended.state, ended.lease_owner) == (job.id, JobState.CANCELLED, None)


async def test_a_job_whose_workers_keep_crashing_fails(qb: QueueBackend) -> None:
    async def crash(job: Job, ctx: JobContext) -> None:
        raise Crash

    job = await qb.queue.enqueue(spec())
    for _ in range(3):
        with pytest.raises(Crash):
            await runner(qb, {"archive": crash}, max_attempts=3).run_once()
        qb.clock.advance(seconds=31)
    assert await runner(qb, {"archive": crash}, max_attempts=3).run_until_idle() == 1
    failed = await qb.queue.get(job.id)
    assert (failed.state, failed.last_error) == (JobState.FAILED, "max_attempts_exceeded")


async def test_the_cutoff_declaration_is_sent_at_most_once(qb: QueueBackend) -> None:
    outbox: list[str] = []

    async def cutoff(job: Job, ctx: JobContext) -> None:
        # Marked BEFORE sending: a crash between the two loses the send, never doubles it.
        if await ctx.mark_once(f"cutoff:{job.params['approval']}"):
            outbox.append(job.params["approval"])
        if len(outbox) == 1 and job.attempts == 1:
            raise Crash  # dies after sending, before recording success

    job = await qb.queue.enqueue(
        JobSpec("cutoff", "KH-2026-0001", {"approval": "ap-1"}, "cutoff:ap-1")
    )
    with pytest.raises(Crash):
        await runner(qb, {"cutoff": cutoff}).run_once()
    qb.clock.advance(seconds=31)
    assert await runner(qb, {"cutoff": cutoff}, queue=qb.another()).run_until_idle() == 1
    # A second approval of the same decision (double click) makes no new job either.
    assert (
        await qb.queue.enqueue(
            JobSpec("cutoff", "KH-2026-0001", {"approval": "ap-1"}, "cutoff:ap-1")
        )
    ).id == job.id
    assert (await qb.queue.get(job.id)).state is JobState.SUCCEEDED
    assert outbox == ["ap-1"]


async def test_several_runners_run_each_job_once(qb: QueueBackend) -> None:
    runs: list[str] = []

    async def handle(job: Job, ctx: JobContext) -> None:
        runs.append(job.id)
        await asyncio.sleep(0)
        await ctx.progress(1, 1)

    ids = {(await qb.queue.enqueue(spec(f"k{n}"))).id for n in range(30)}
    runners = [
        runner(qb, {"archive": handle}, worker_id=f"w{n}", queue=qb.another()) for n in range(5)
    ]
    for r in runners:
        r.start()

    async def all_done() -> bool:
        return all(j.state is JobState.SUCCEEDED for j in await qb.queue.recent_jobs())

    await until(all_done, limit=20)
    for r in runners:
        await r.stop()
    assert sorted(runs) == sorted(ids)


async def test_heartbeats_keep_the_lease_of_a_slow_handler(qb: QueueBackend) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(job: Job, ctx: JobContext) -> None:
        started.set()
        await release.wait()

    job = await qb.queue.enqueue(spec())
    r = runner(qb, {"archive": slow}, worker_id="w1", heartbeat_interval=0.02)
    task = asyncio.create_task(r.run_once())
    await started.wait()
    qb.clock.advance(seconds=20)
    renewed = qb.clock.now() + LEASE

    async def beaten() -> bool:
        return (await qb.queue.get(job.id)).lease_until == renewed

    await until(beaten)
    qb.clock.advance(seconds=20)  # 40 s after the claim: alive only thanks to the heartbeat
    assert await qb.another().claim("w2", lease=LEASE) is None
    release.set()
    ended = await task
    assert ended is not None and ended.state is JobState.SUCCEEDED
