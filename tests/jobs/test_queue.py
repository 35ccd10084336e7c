"""The ``JobQueue`` contract, run on every backend (memory fake, SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.domain.errors import InvalidJobSpec, JobNotFound, LeaseLost
from bot.domain.jobs import JobSpec, JobState
from tests.jobs.conftest import QueueBackend

LEASE = dt.timedelta(seconds=30)


def spec(key: str = "k1", *, kind: str = "archive", incident: str = "KH-2026-0001") -> JobSpec:
    """An archive job for one incident."""
    return JobSpec(kind, incident, {"mailbox": "staff@city.example.jp", "limit": 5000}, key)


async def test_enqueue_is_idempotent_by_key(qb: QueueBackend) -> None:
    first = await qb.queue.enqueue(spec("a"))
    again = await qb.queue.enqueue(spec("a"))
    other = await qb.queue.enqueue(spec("b"))
    assert again == first
    assert other.id != first.id
    assert first.state is JobState.QUEUED
    assert (first.attempts, first.progress_done, first.checkpoint) == (0, 0, {})
    assert first.params == {"mailbox": "staff@city.example.jp", "limit": 5000}
    assert first.created_at == qb.clock.now() == first.run_after
    assert await qb.queue.get(first.id) == first


async def test_concurrent_enqueues_of_one_key_make_one_job(qb: QueueBackend) -> None:
    queues = [qb.another() for _ in range(4)]
    made = await asyncio.gather(*(q.enqueue(spec("same")) for q in queues for _ in range(5)))
    assert len({j.id for j in made}) == 1
    assert len(await qb.queue.jobs_for_incident("KH-2026-0001")) == 1


def test_spec_must_be_json_safe() -> None:
    for params in ({"t": (1, 2)}, {1: "x"}, {"n": float("nan")}, {"s": {1, 2}}):
        with pytest.raises(InvalidJobSpec):
            JobSpec("archive", "KH-2026-0001", params, "k")  # type: ignore[arg-type]
    with pytest.raises(InvalidJobSpec):
        JobSpec("archive", "KH-2026-0001", {}, "")
    with pytest.raises(InvalidJobSpec):
        JobSpec("", "KH-2026-0001", {}, "k")


async def test_get_unknown_job(qb: QueueBackend) -> None:
    with pytest.raises(JobNotFound):
        await qb.queue.get("nope")


async def test_claim_leases_the_oldest_due_job(qb: QueueBackend) -> None:
    first = await qb.queue.enqueue(spec("a"))
    qb.clock.advance(seconds=1)
    await qb.queue.enqueue(spec("b"))
    job = await qb.queue.claim("w1", lease=LEASE)
    assert job is not None and job.id == first.id
    assert job.state is JobState.RUNNING
    assert (job.attempts, job.lease_owner) == (1, "w1")
    assert job.lease_until == qb.clock.now() + LEASE
    second = await qb.queue.claim("w2", lease=LEASE)
    assert second is not None and second.id != first.id
    assert await qb.queue.claim("w3", lease=LEASE) is None


async def test_only_the_owner_may_write(qb: QueueBackend) -> None:
    job = await qb.queue.enqueue(spec())
    await qb.queue.claim("w1", lease=LEASE)
    assert await qb.queue.heartbeat(job.id, "w2", LEASE) is False
    with pytest.raises(LeaseLost):
        await qb.queue.save_progress(job.id, "w2", 1, 2, {"after": "x"})
    with pytest.raises(LeaseLost):
        await qb.queue.complete(job.id, "w2")
    with pytest.raises(LeaseLost):
        await qb.queue.fail(job.id, "w2", "boom", retry_at=None)
    with pytest.raises(JobNotFound):
        await qb.queue.save_progress("nope", "w1", 1, 2, {})
    assert await qb.queue.heartbeat(job.id, "w1", LEASE) is True
    assert (await qb.queue.get(job.id)).lease_owner == "w1"


async def test_expired_lease_is_taken_over_with_its_checkpoint(qb: QueueBackend) -> None:
    job = await qb.queue.enqueue(spec())
    await qb.queue.claim("w1", lease=LEASE)
    await qb.queue.save_progress(job.id, "w1", 1200, 5000, {"after": "m1199"}, lease=LEASE)
    qb.clock.advance(seconds=29)
    assert await qb.queue.claim("w2", lease=LEASE) is None  # w1's lease still runs
    qb.clock.advance(seconds=2)
    taken = await qb.queue.claim("w2", lease=LEASE)
    assert taken is not None and taken.id == job.id
    assert (taken.lease_owner, taken.attempts) == ("w2", 2)
    assert taken.checkpoint == {"after": "m1199"}
    assert (taken.progress_done, taken.progress_total) == (1200, 5000)
    # The old owner is fenced off from now on.
    assert await qb.queue.heartbeat(job.id, "w1", LEASE) is False
    with pytest.raises(LeaseLost):
        await qb.queue.save_progress(job.id, "w1", 1300, 5000, {"after": "m1299"})


async def test_heartbeat_and_progress_extend_the_lease(qb: QueueBackend) -> None:
    job = await qb.queue.enqueue(spec())
    await qb.queue.claim("w1", lease=LEASE)
    qb.clock.advance(seconds=20)
    await qb.queue.save_progress(job.id, "w1", 1, 10, {"n": 1}, lease=LEASE)
    qb.clock.advance(seconds=20)
    assert await qb.queue.claim("w2", lease=LEASE) is None
    assert await qb.queue.heartbeat(job.id, "w1", LEASE)
    qb.clock.advance(seconds=29)
    assert await qb.queue.claim("w2", lease=LEASE) is None


async def test_complete(qb: QueueBackend) -> None:
    job = await qb.queue.enqueue(spec())
    await qb.queue.claim("w1", lease=LEASE)
    qb.clock.advance(seconds=3)
    done = await qb.queue.complete(job.id, "w1")
    assert done.state is JobState.SUCCEEDED
    assert (done.lease_owner, done.lease_until) == (None, None)
    assert done.finished_at == qb.clock.now()
    assert await qb.queue.claim("w2", lease=LEASE) is None
    with pytest.raises(LeaseLost):
        await qb.queue.complete(job.id, "w1")


async def test_fail_with_retry_requeues_at_retry_time(qb: QueueBackend) -> None:
    job = await qb.queue.enqueue(spec())
    await qb.queue.claim("w1", lease=LEASE)
    retry_at = qb.clock.now() + dt.timedelta(seconds=10)
    failed = await qb.queue.fail(job.id, "w1", "throttled", retry_at=retry_at)
    assert (failed.state, failed.last_error, failed.run_after) == (
        JobState.QUEUED,
        "throttled",
        retry_at,
    )
    assert failed.finished_at is None
    assert await qb.queue.claim("w1", lease=LEASE) is None
    qb.clock.advance(seconds=10)
    again = await qb.queue.claim("w2", lease=LEASE)
    assert again is not None and again.attempts == 2


async def test_final_failure(qb: QueueBackend) -> None:
    job = await qb.queue.enqueue(spec())
    await qb.queue.claim("w1", lease=LEASE)
    failed = await qb.queue.fail(job.id, "w1", "x" * 500, retry_at=None)
    assert failed.state is JobState.FAILED
    assert failed.last_error == "x" * 200
    assert failed.finished_at == qb.clock.now()
    qb.clock.advance(days=1)
    assert await qb.queue.claim("w1", lease=LEASE) is None


async def test_release_gives_the_job_back_untried(qb: QueueBackend) -> None:
    job = await qb.queue.enqueue(spec())
    await qb.queue.claim("w1", lease=LEASE)
    await qb.queue.save_progress(job.id, "w1", 7, 9, {"after": 7})
    released = await qb.queue.release(job.id, "w1")
    assert (released.state, released.attempts, released.lease_owner) == (
        JobState.QUEUED,
        0,
        None,
    )
    again = await qb.queue.claim("w2", lease=LEASE)
    assert again is not None and again.checkpoint == {"after": 7} and again.attempts == 1


async def test_cancel_fences_the_worker(qb: QueueBackend) -> None:
    queued = await qb.queue.enqueue(spec("a"))
    running = await qb.queue.enqueue(spec("b"))
    await qb.queue.claim("w1", lease=LEASE)  # takes "a" (older)
    assert (await qb.queue.cancel(running.id)).state is JobState.CANCELLED
    assert (await qb.queue.cancel(queued.id)).state is JobState.CANCELLED
    with pytest.raises(LeaseLost):
        await qb.queue.save_progress(queued.id, "w1", 1, 2, {})
    assert await qb.queue.claim("w2", lease=LEASE) is None
    done = await qb.queue.enqueue(spec("c"))
    await qb.queue.claim("w1", lease=LEASE)
    await qb.queue.complete(done.id, "w1")
    assert (await qb.queue.cancel(done.id)).state is JobState.SUCCEEDED
    with pytest.raises(JobNotFound):
        await qb.queue.cancel("nope")


async def test_checkpoint_must_be_json(qb: QueueBackend) -> None:
    job = await qb.queue.enqueue(spec())
    await qb.queue.claim("w1", lease=LEASE)
    with pytest.raises(InvalidJobSpec):
        await qb.queue.save_progress(job.id, "w1", 1, 2, {"ids": ("a", "b")})


async def test_listing(qb: QueueBackend) -> None:
    a = await qb.queue.enqueue(spec("a", incident="KH-2026-0001"))
    qb.clock.advance(seconds=1)
    b = await qb.queue.enqueue(spec("b", incident="KH-2026-0002"))
    qb.clock.advance(seconds=1)
    c = await qb.queue.enqueue(spec("c", incident="KH-2026-0001", kind="cutoff"))
    assert [j.id for j in await qb.queue.jobs_for_incident("KH-2026-0001")] == [a.id, c.id]
    assert [j.id for j in await qb.queue.recent_jobs()] == [c.id, b.id, a.id]
    assert [j.id for j in await qb.queue.recent_jobs(limit=1)] == [c.id]


async def test_mark_once(qb: QueueBackend) -> None:
    assert await qb.queue.mark_once("cutoff:approval-1") is True
    assert await qb.queue.mark_once("cutoff:approval-1") is False
    assert await qb.queue.mark_once("cutoff:approval-2") is True


async def test_mark_once_under_concurrency_has_one_winner(qb: QueueBackend) -> None:
    queues = [qb.another() for _ in range(5)]
    results = await asyncio.gather(
        *(q.mark_once("cutoff:approval-9") for q in queues for _ in range(8))
    )
    assert results.count(True) == 1


async def test_concurrent_claims_take_each_job_once(qb: QueueBackend) -> None:
    ids = {(await qb.queue.enqueue(spec(f"k{n}"))).id for n in range(40)}
    queues = [qb.another() for _ in range(6)]
    claimed: list[str] = []

    async def worker(w: int) -> None:
        queue = queues[w]
        # Keep trying until every job is taken: SKIP LOCKED may skip a row a peer holds.
        while len(claimed) < len(ids):
            job = await queue.claim(f"w{w}", lease=LEASE)
            if job is None:
                await asyncio.sleep(0.001)
                continue
            claimed.append(job.id)

    await asyncio.wait_for(asyncio.gather(*(worker(w) for w in range(6))), 20)
    assert sorted(claimed) == sorted(ids)
