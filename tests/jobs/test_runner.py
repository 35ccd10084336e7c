"""The runner on every backend: outcomes, retries, crash and resume, graceful stop."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

from bot.domain.errors import PermanentJobError, RetryableJobError
from bot.domain.jobs import Job, JobState
from bot.jobs.runner import Backoff, JobContext
from tests.jobs.conftest import QueueBackend, until
from tests.jobs.fakes import LEASE, runner, spec


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
        # Not recognised: retried later (counted), never failed at the first surprise.
        (JobState.QUEUED, 1, "ValueError"),
        (JobState.FAILED, 1, "unknown_kind"),
    ]


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
