"""SQLite is for one instance: a second process on the same file serves chat, runs no jobs, says so.

Two bots on one SQLite file would both think they own the jobs and the periodic work
(SQLite has no row locks across processes), so ``SingleRunnerLock`` lets one process
run them and makes any other one say, in its log, to stop or to use PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.jobs.periodic import SecondProcess, SingleRunnerLock
from tests.e2e.processes import free_port, spawn_mamoru

REFUSED = "another Mamoru process already runs jobs on this SQLite database"


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    database = tmp_path / "mamoru.db"
    first, second = SingleRunnerLock(database), SingleRunnerLock(database)
    first.acquire()
    with pytest.raises(SecondProcess) as refused:
        second.acquire()
    assert REFUSED in str(refused.value) and "PostgreSQL" in str(refused.value)
    first.release()
    second.acquire()  # the first one stopped: the next one may run the jobs
    second.release()


async def test_two_serve_processes_on_one_file_one_runs_jobs(tmp_path: Path) -> None:
    """Started at the same moment on a fresh data directory, as a careless restart would."""
    children = []
    try:
        for n in range(2):
            port = free_port()
            child = spawn_mamoru(
                port,
                tmp_path / f"mamoru-{n}.log",
                {
                    **os.environ,
                    "MAMORU_ALLOW_ANONYMOUS": "true",
                    "MAMORU_DATA_DIR": str(tmp_path / "data"),  # one SQLite file for both
                    "MAMORU_DATABASE_URL": "",
                    "MAMORU_HOST": "127.0.0.1",
                    "MAMORU_GRAPH_SANDBOX_URL": f"http://127.0.0.1:{free_port()}",
                    "PYTHONUNBUFFERED": "1",
                },
            )
            children.append((child, f"http://127.0.0.1:{port}/healthz"))
        for child, health in children:
            await asyncio.to_thread(child.wait_for_http, health)
        logs = [child.log_text() for child, _ in children]
        running = [log for log in logs if "job runner" in log and "started" in log]
        refused = [log for log in logs if REFUSED in log]
        assert (len(running), len(refused)) == (1, 1), logs
        assert "PostgreSQL" in refused[0] and "job runner" not in refused[0]
    finally:
        for child, _ in children:
            await asyncio.to_thread(child.stop)
