"""Three instances on one PostgreSQL: jobs once, periodic work once per period, none lost.

Each instance is its own process (``tests/jobs/scaleout_worker.py``: the runner and the
leased periodic tick of ``mamoru serve``, on the real SQL pieces). One is killed with
SIGKILL part-way; the other two finish its jobs from their checkpoints.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.domain.jobs import JobSpec, JobState
from bot.jobs.sql import SqlJobQueue
from tests.jobs.scaleout_worker import TICK

pytestmark = pytest.mark.postgres

JOBS = 12
STEPS = 40
ROOT = Path(__file__).resolve().parents[2]


async def _prepare(queue: SqlJobQueue) -> None:
    async with queue._engines.write.begin() as conn:
        for statement in (
            "TRUNCATE jobs, job_once_keys, leases",
            "DROP TABLE IF EXISTS scaleout_attempts, scaleout_effects, scaleout_notices,"
            " scaleout_ticks",
            "CREATE TABLE scaleout_attempts (id serial PRIMARY KEY, job_id text, step int,"
            " worker text, at timestamptz DEFAULT clock_timestamp())",
            "CREATE TABLE scaleout_effects (job_id text, step int, PRIMARY KEY (job_id, step))",
            "CREATE TABLE scaleout_notices (id serial PRIMARY KEY, job_id text, worker text)",
            "CREATE TABLE scaleout_ticks (id serial PRIMARY KEY, worker text, at timestamptz)",
        ):
            await conn.execute(text(statement))


def _start(url: str, name: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.scaleout_worker", url, name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


async def _rows(queue: SqlJobQueue, sql: str) -> list[tuple[object, ...]]:
    async with queue._engines.read.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(sql))]


async def test_three_instances_one_killed(postgres_url: str) -> None:
    queue = SqlJobQueue.from_url(postgres_url)
    workers: dict[str, subprocess.Popen[str]] = {}
    try:
        await _prepare(queue)
        jobs = [
            await queue.enqueue(
                JobSpec("steps", f"KH-2026-{n:04d}", {"steps": STEPS}, f"scaleout:{n}")
            )
            for n in range(JOBS)
        ]
        for name in ("a", "b", "c"):
            workers[name] = _start(postgres_url, name)
        # Let "a" get well into a job, then kill it as a crashed host would.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            progress = await _rows(
                queue, "SELECT count(*) FROM scaleout_attempts WHERE worker = 'a'"
            )
            if progress[0][0] >= 15:
                break
            await asyncio.sleep(0.05)
        killed_at = time.time()
        workers["a"].send_signal(signal.SIGKILL)
        workers["a"].wait()

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            states = {(await queue.get(j.id)).state for j in jobs}
            notices = await _rows(queue, "SELECT count(*) FROM scaleout_notices")
            if states == {JobState.SUCCEEDED} and notices[0][0] >= JOBS:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(3 * TICK.total_seconds())  # a few more periods after the kill

        # Every job finished, every step's effect is there exactly once (no lost work).
        assert {(await queue.get(j.id)).state for j in jobs} == {JobState.SUCCEEDED}
        effects = await _rows(queue, "SELECT job_id, step FROM scaleout_effects")
        assert len(effects) == JOBS * STEPS
        # One notice per job, ever (no double notice).
        notices = await _rows(queue, "SELECT job_id FROM scaleout_notices")
        assert sorted(n[0] for n in notices) == sorted(j.id for j in jobs)
        # No double job: a step was only ever done again after its first doer was killed
        # (the one step in flight at the kill), never by two live instances.
        attempts = await _rows(
            queue, "SELECT job_id, step, worker FROM scaleout_attempts ORDER BY id"
        )
        doers: dict[tuple[object, object], list[object]] = defaultdict(list)
        for job_id, step, worker in attempts:
            doers[(job_id, step)].append(worker)
        repeated = {k: v for k, v in doers.items() if len(v) > 1}
        assert all(v[:-1] == ["a"] * (len(v) - 1) for v in repeated.values()), repeated
        assert len(repeated) <= 1
        assert {w for _, _, w in attempts} == {"a", "b", "c"}
        # Periodic work: once per period across the three (never two ticks in one
        # period), and it goes on after the kill (the dead holder's lease expires).
        ticks = await _rows(
            queue, "SELECT worker, extract(epoch FROM at) FROM scaleout_ticks ORDER BY at"
        )
        times = [float(t) for _, t in ticks]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.9 * TICK.total_seconds() - 0.05, gaps
        after = [w for (w, t) in ticks if float(t) > killed_at + 2 * TICK.total_seconds()]
        assert after and "a" not in after
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
        await queue.close()
