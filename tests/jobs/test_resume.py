"""Crash, stop and resume on every backend: each effect happens exactly (or at most) once."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.errors import RetryableJobError
from bot.domain.jobs import Job, JobSpec, JobState
from bot.jobs.runner import JobContext
from tests.jobs.conftest import QueueBackend, until
from tests.jobs.fakes import Crash, FakeMailbox, archive_handler, runner, spec


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
    # Progress since the crash reset the attempt count: a killed job that advances is
    # never given up for having been killed.
    assert (done.state, done.attempts, done.progress_done) == (JobState.SUCCEEDED, 1, 5000)
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


async def test_a_retry_resumes_from_the_saved_checkpoint(qb: QueueBackend) -> None:
    seen: list[dict[str, object]] = []

    async def handle(job: Job, ctx: JobContext) -> None:
        seen.append(ctx.checkpoint)
        if not ctx.checkpoint:
            await ctx.progress(100, 300, {"after": "m00099"})
            raise RetryableJobError("throttled")
        await ctx.progress(300, 300, {"after": "m00299"})

    job = await qb.queue.enqueue(spec())
    r = runner(qb, {"archive": handle})
    await r.run_until_idle()
    qb.clock.advance(seconds=10)
    await r.run_until_idle()
    assert seen == [{}, {"after": "m00099"}]
    assert (await qb.queue.get(job.id)).state is JobState.SUCCEEDED


async def test_stop_gives_up_on_a_handler_that_ignores_cancellation(qb: QueueBackend) -> None:
    started = asyncio.Event()
    finish = asyncio.Event()

    async def stubborn(job: Job, ctx: JobContext) -> None:
        started.set()
        while not finish.is_set():
            try:
                await finish.wait()
            except asyncio.CancelledError:
                continue  # a badly written handler

    job = await qb.queue.enqueue(spec())
    r = runner(qb, {"archive": stubborn}, worker_id="w1", release_timeout=0.01)
    r.start()
    await started.wait()
    await asyncio.wait_for(r.stop(timeout=0.001), 5)  # returns although the handler runs
    assert (await qb.queue.get(job.id)).lease_owner == "w1"  # left for its lease to expire
    finish.set()
    await until(lambda: r._handler_task is None)
