"""``mamoru jobs list`` on a SQLite database: a table or JSON lines, never params."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest

from bot.commands import jobs as jobs_command
from bot.domain.jobs import JobSpec
from bot.jobs.sql import SqlJobQueue
from bot.store.migrate import upgrade
from tests.store.backends import FakeClock, run_in_thread


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mamoru")
    jobs_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


async def _seed(url: str) -> None:
    await upgrade(url)
    clock = FakeClock()
    queue = SqlJobQueue.from_url(url, clock=clock)
    try:
        secret = {"sender": "stalker@example.jp"}
        job = await queue.enqueue(JobSpec("archive", "KH-2026-0001", secret, "a"))
        clock.advance(seconds=1)
        await queue.enqueue(JobSpec("cutoff", "KH-2026-0002", secret, "b"))
        await queue.claim("w1", lease=dt.timedelta(seconds=30))  # the older one: archive
        await queue.save_progress(job.id, "w1", 1240, 5000, {"after": "m1239"})
    finally:
        await queue.close()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite database with two jobs, configured through the environment."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    run_in_thread(_seed(url))
    monkeypatch.setenv("MAMORU_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no stray .env from the working tree
    return url


def test_list_prints_a_table_without_params(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["jobs", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "KIND", "INCIDENT", "STATE"]
    assert len(lines) == 3
    assert "stalker" not in out


def test_list_one_incident_as_json(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["jobs", "list", "--incident", "KH-2026-0001", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["kind"], r["state"], r["attempts"]) for r in rows] == [("archive", "running", 1)]
    assert (rows[0]["progress_done"], rows[0]["progress_total"]) == (1240, 5000)
    assert "params" not in rows[0] and "checkpoint" not in rows[0]


def test_unmigrated_database_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAMORU_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.chdir(tmp_path)
    assert _run(["jobs", "list"]) == 1
    assert "mamoru db upgrade" in capsys.readouterr().err
