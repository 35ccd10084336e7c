"""One instance of the scale-out test (tests/jobs/test_scaleout.py), run as its own process.

It has what a `mamoru serve` instance runs in the background, on the real pieces: a
``JobRunner`` on a ``SqlJobQueue`` and a periodic tick under a ``SqlLeases`` lease. The
job handler works in checkpointed steps whose effect is idempotent (an upsert), like
archiving; each finished job is announced once (a ``mark_once`` marker: the queue and lease
pieces alone; the bot's staff notices use the outbox, tests/jobs/test_notice_outbox.py);
every attempt of a step is written down so the test can see who did what.

    python -m tests.jobs.scaleout_worker POSTGRES_URL NAME
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys

from sqlalchemy import text

from bot.domain.jobs import Job, JobState
from bot.jobs.periodic import SqlLeases, every
from bot.jobs.runner import JobContext, JobRunner
from bot.jobs.sql import SqlJobQueue

TICK = dt.timedelta(seconds=0.4)
LEASE = dt.timedelta(seconds=2)
STEP_SECONDS = 0.01


async def main(url: str, name: str) -> None:
    queue = SqlJobQueue.from_url(url)
    engines = queue._engines  # the instance's own pool, like a separate process's

    async def steps(job: Job, ctx: JobContext) -> None:
        total = int(job.params["steps"])
        for step in range(int(ctx.checkpoint.get("next", 0)), total):
            async with engines.write.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO scaleout_attempts (job_id, step, worker) VALUES (:j, :s, :w)"
                    ),
                    {"j": job.id, "s": step, "w": name},
                )
                await conn.execute(
                    text(
                        "INSERT INTO scaleout_effects (job_id, step) VALUES (:j, :s)"
                        " ON CONFLICT DO NOTHING"
                    ),
                    {"j": job.id, "s": step},
                )
            await asyncio.sleep(STEP_SECONDS)
            await ctx.progress(step + 1, total, {"next": step + 1})

    async def announce(job: Job) -> None:
        if job.state is JobState.SUCCEEDED and await queue.mark_once(f"notice:{job.id}"):
            async with engines.write.begin() as conn:
                await conn.execute(
                    text("INSERT INTO scaleout_notices (job_id, worker) VALUES (:j, :w)"),
                    {"j": job.id, "w": name},
                )

    async def tick() -> None:
        # The sweep: a job whose instance died between finishing and announcing is
        # announced by the period's tick (the marker keeps it to once).
        for job in await queue.recent_jobs(limit=200):
            await announce(job)
        async with engines.write.begin() as conn:
            await conn.execute(
                text("INSERT INTO scaleout_ticks (worker, at) VALUES (:w, clock_timestamp())"),
                {"w": name},
            )

    runner = JobRunner(
        queue,
        {"steps": steps},
        worker_id=name,
        poll_interval=0.05,
        lease=LEASE,
        on_change=announce,
    )
    runner.start()
    leases = SqlLeases(engines)
    print("ready", flush=True)
    await every(TICK, "scaleout-tick", tick, leases=leases, owner=name)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
