"""Leases on the database's clock: instances whose own clocks disagree never overlap.

Two takers on one database (SQLite, PostgreSQL), each with its own engines and an
instance clock a minute off the other's. Were leases measured on the instance's clock,
the one running ahead would see the other's lease as expired at once and take it; on
the database's clock it waits until the lease has really run out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import uuid

import pytest

from bot.domain.jobs import JobSpec, JobState
from bot.jobs.periodic import Lease, SqlLeases
from bot.jobs.sql import SqlJobQueue
from tests.jobs.conftest import QueueBackend

SKEW = dt.timedelta(seconds=60)


class SkewedClock:
    """The real time, off by a fixed amount (a host whose time sync failed)."""

    def __init__(self, off: dt.timedelta) -> None:
        self.off = off

    def now(self) -> dt.datetime:
        """Real UTC time plus the skew."""
        return dt.datetime.now(dt.UTC) + self.off


def _queue(sql_qb: QueueBackend, off: dt.timedelta) -> SqlJobQueue:
    assert sql_qb.url is not None
    queue = SqlJobQueue.from_url(sql_qb.url, clock=SkewedClock(off))  # leases: the database's
    sql_qb._opened.append(queue)
    return queue


async def test_periodic_leases_of_skewed_takers_never_overlap(
    sql_qb: QueueBackend, caplog: pytest.LogCaptureFixture
) -> None:
    ahead, behind = _queue(sql_qb, SKEW), _queue(sql_qb, -SKEW)
    takers = {
        "ahead": SqlLeases(ahead._engines, clock=SkewedClock(SKEW)),
        "behind": SqlLeases(behind._engines, clock=SkewedClock(-SKEW)),
    }
    name = f"skew-{uuid.uuid4().hex[:8]}"
    duration = dt.timedelta(seconds=0.3)
    held: list[Lease] = []
    caplog.set_level(logging.WARNING, logger="bot.jobs.periodic")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3.0
    while loop.time() < deadline:
        # Both try in turn as often as they can, the way two instances' ticks race.
        for owner in ("behind", "ahead"):
            lease = await takers[owner].take(name, owner, duration)
            if lease is not None and (not held or held[-1].owner != owner):
                held.append(lease)
            elif lease is not None:
                held[-1] = Lease(name, owner, held[-1].start, lease.until)  # renewed
        await asyncio.sleep(0.01)
    # A lease held by one is renewed by its own ticks; the other never gets in while it
    # runs. Stop renewing and the other takes over only once it has run out.
    assert held, "nobody ever took the lease"
    last = held[-1]
    other = "ahead" if last.owner == "behind" else "behind"
    assert await takers[other].take(name, other, duration) is None
    await asyncio.sleep(duration.total_seconds() + 0.1)
    taken = await takers[other].take(name, other, duration)
    assert taken is not None and taken.start >= last.until
    for before, after in itertools.pairwise(held):
        assert after.start >= before.until
    # Each instance said once that its clock is off (an IT person should fix the host).
    skew_lines = [r for r in caplog.records if "clock is" in r.getMessage()]
    assert {("ahead of" in r.getMessage()) for r in skew_lines} == {True, False}
    assert len(skew_lines) == 2


async def test_a_job_lease_holds_against_a_claimer_whose_clock_runs_ahead(
    sql_qb: QueueBackend,
) -> None:
    behind, ahead = _queue(sql_qb, -SKEW), _queue(sql_qb, SKEW)
    job = await behind.enqueue(JobSpec("archive", "KH-2026-0001", {}, f"skew:{uuid.uuid4()}"))
    lease = dt.timedelta(seconds=0.5)
    claimed = await behind.claim("behind", lease=lease)
    assert claimed is not None and claimed.id == job.id
    # A minute ahead, the lease looks a minute old: still not the other's to take.
    assert await ahead.claim("ahead", lease=lease) is None
    assert await behind.heartbeat(job.id, "behind", lease)
    assert await ahead.claim("ahead", lease=lease) is None
    await asyncio.sleep(lease.total_seconds() + 0.1)
    taken = await ahead.claim("ahead", lease=lease)  # now it has really expired
    assert taken is not None and (taken.id, taken.lease_owner) == (job.id, "ahead")
    assert taken.state is JobState.RUNNING
    assert await behind.heartbeat(job.id, "behind", lease) is False
