"""Jobs wait out transient faults instead of failing, and a manager can resume them.

Runs on every queue backend (memory, SQLite, PostgreSQL) with the fake clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import OperationalError

from bot.domain.jobs import Job, JobState
from bot.domain.mailbox import MailboxAccessDenied, MailboxNotFoundError, MailboxUnavailable
from bot.jobs.faults import (
    DATABASE,
    GRAPH_THROTTLED,
    PERMISSION_PROPAGATION,
    FaultKind,
    classify,
)
from bot.jobs.runner import JobContext
from graph import errors as graph_errors
from tests.jobs.conftest import QueueBackend
from tests.jobs.fakes import runner, spec


def throttled(retry_after: float = 30.0) -> MailboxUnavailable:
    error = MailboxUnavailable("Graph TooManyRequests", code="TooManyRequests")
    error.__cause__ = graph_errors.Throttled(
        "x", code="TooManyRequests", status=429, retry_after=retry_after
    )
    return error


def dropped_connection() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionResetError("connection reset"))


async def test_transient_faults_wait_without_using_up_attempts(qb: QueueBackend) -> None:
    faults = [throttled(), dropped_connection(), throttled(), dropped_connection()] * 3
    seen: list[int] = []

    async def flaky(job: Job, ctx: JobContext) -> None:
        seen.append(job.attempts)
        await ctx.progress(len(seen), 100)
        if faults:
            raise faults.pop(0)

    job = await qb.queue.enqueue(spec("flaky", kind="flaky"))
    r = runner(qb, {"flaky": flaky}, max_attempts=3)
    for _ in range(12):
        assert await r.run_until_idle() == 1
        waiting = await qb.queue.get(job.id)
        assert waiting.state is JobState.QUEUED
        assert waiting.wait_reason in {GRAPH_THROTTLED, DATABASE}
        assert waiting.run_after >= qb.clock.now() + dt.timedelta(seconds=5)
        qb.clock.current = waiting.run_after
    assert await r.run_until_idle() == 1
    done = await qb.queue.get(job.id)
    # Twelve faults with max_attempts=3: none of them counted.
    assert (done.state, done.wait_reason) == (JobState.SUCCEEDED, None)
    assert set(seen) == {1}


async def test_retry_after_is_honoured(qb: QueueBackend) -> None:
    async def busy(job: Job, ctx: JobContext) -> None:
        raise throttled(retry_after=900)

    job = await qb.queue.enqueue(spec("busy", kind="busy"))
    await runner(qb, {"busy": busy}).run_until_idle()
    waiting = await qb.queue.get(job.id)
    assert waiting.run_after >= qb.clock.now() + dt.timedelta(seconds=900)


async def test_waiting_ends_at_the_jobs_deadline(qb: QueueBackend) -> None:
    async def busy(job: Job, ctx: JobContext) -> None:
        raise throttled(retry_after=1800)

    job = await qb.queue.enqueue(spec("busy", kind="busy"))
    r = runner(qb, {"busy": busy}, deadline=dt.timedelta(hours=2))
    for _ in range(10):
        await r.run_until_idle()
        current = await qb.queue.get(job.id)
        if current.state is JobState.FAILED:
            break
        assert current.run_after <= job.created_at + dt.timedelta(hours=2)
        qb.clock.current = current.run_after
    assert current.state is JobState.FAILED
    assert current.last_error == f"deadline:{GRAPH_THROTTLED}"


async def test_access_denied_waits_for_the_permission_then_fails(qb: QueueBackend) -> None:
    async def denied(job: Job, ctx: JobContext) -> None:
        raise MailboxAccessDenied("Graph ErrorAccessDenied", code="ErrorAccessDenied")

    job = await qb.queue.enqueue(spec("rbac", kind="denied"))
    r = runner(qb, {"denied": denied}, permission_window=dt.timedelta(hours=2))
    await r.run_until_idle()
    waiting = await qb.queue.get(job.id)
    assert (waiting.state, waiting.wait_reason) == (JobState.QUEUED, PERMISSION_PROPAGATION)
    qb.clock.current = job.created_at + dt.timedelta(hours=2, minutes=1)
    await r.run_until_idle()
    failed = await qb.queue.get(job.id)
    assert (failed.state, failed.last_error) == (JobState.FAILED, "access-denied")


async def test_a_missing_mailbox_fails_at_once(qb: QueueBackend) -> None:
    async def missing(job: Job, ctx: JobContext) -> None:
        raise MailboxNotFoundError("Graph MailboxNotEnabledForRESTAPI")

    job = await qb.queue.enqueue(spec("gone", kind="missing"))
    await runner(qb, {"missing": missing}).run_until_idle()
    failed = await qb.queue.get(job.id)
    assert (failed.state, failed.last_error) == (JobState.FAILED, "mailbox-not-found")


async def test_a_resumed_job_continues_from_its_checkpoint(qb: QueueBackend) -> None:
    done_items: list[int] = []
    fail_at = {"value": 30}

    async def archive(job: Job, ctx: JobContext) -> None:
        start = int(ctx.checkpoint.get("next", 0))
        for i in range(start, 50):
            if i == fail_at["value"]:
                raise MailboxNotFoundError("Graph MailboxNotEnabledForRESTAPI")
            done_items.append(i)
            await ctx.progress(i + 1, 50, {"next": i + 1})

    job = await qb.queue.enqueue(spec("case:mail-protection", kind="archive"))
    r = runner(qb, {"archive": archive})
    await r.run_until_idle()
    assert (await qb.queue.get(job.id)).state is JobState.FAILED
    # The same key cannot make a second job: it returns this one, still failed.
    assert (await qb.queue.enqueue(spec("case:mail-protection", kind="archive"))).id == job.id
    fail_at["value"] = -1  # IT fixed the mailbox
    resumed = await qb.queue.resume(job.id)
    assert (resumed.state, resumed.attempts, resumed.resumed_at) == (
        JobState.QUEUED,
        0,
        qb.clock.now(),
    )
    assert await r.run_until_idle() == 1
    finished = await qb.queue.get(job.id)
    assert (finished.state, finished.progress_done) == (JobState.SUCCEEDED, 50)
    assert done_items == list(range(50))  # each item exactly once
    # Resuming a finished job changes nothing.
    assert (await qb.queue.resume(job.id)).state is JobState.SUCCEEDED


def test_classification_table() -> None:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    job = Job.new("j", spec("k"), at=now)
    window = dt.timedelta(hours=2)

    def kind(error: BaseException) -> FaultKind:
        return classify(error, job=job, now=now, permission_window=window).kind

    unavailable = MailboxUnavailable("Graph 503")
    unavailable.__cause__ = graph_errors.ServiceUnavailable("x", status=503)
    assert kind(unavailable) is FaultKind.TRANSIENT
    assert kind(dropped_connection()) is FaultKind.TRANSIENT
    assert kind(TimeoutError()) is FaultKind.TRANSIENT
    assert kind(MailboxNotFoundError("x")) is FaultKind.PERMANENT
    assert kind(KeyError("x")) is FaultKind.RETRY
