"""Fakes and helpers for the runner tests: a mailbox that counts every move, a runner.

The mailbox's ``move`` is deliberately NOT idempotent (moving a message twice counts
twice and is an error, like Graph answering 404 for an id already moved): exactly-once
must come from the handler's idempotent steps, not from the fake.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

from bot.domain.errors import RetryableJobError
from bot.domain.jobs import Job, JobSpec
from bot.domain.ports import JobQueue
from bot.jobs.runner import Backoff, JobContext, JobHandler, JobRunner
from tests.jobs.conftest import QueueBackend


class Crash(BaseException):
    """The process dies here: nothing in the runner may react (no release, no fail)."""


class FakeMailbox:
    """``n`` messages from one sender, each in the inbox or in the evidence folder."""

    def __init__(self, n: int) -> None:
        self.ids = [f"m{i:05d}" for i in range(n)]
        self.archived: set[str] = set()
        self.moves: Counter[str] = Counter()
        self.listed_after: list[str | None] = []  # the cursor of every page request
        self.crash_at: int | None = None  # total moves after which the process "dies"
        self.throttle_pages: int = 0  # page requests that fail as throttled first

    def page(self, after: str | None, limit: int) -> list[str]:
        """The sender's messages (in any folder) after ``after``, in a stable order."""
        if self.throttle_pages > 0:
            self.throttle_pages -= 1
            raise RetryableJobError("throttled")
        self.listed_after.append(after)
        rest = self.ids if after is None else [i for i in self.ids if i > after]
        return rest[:limit]

    def move(self, message_id: str) -> None:
        """Move one message to the evidence folder (an error if it was moved already)."""
        self.moves[message_id] += 1
        if message_id in self.archived:
            raise AssertionError(f"{message_id} moved twice")
        self.archived.add(message_id)
        if self.crash_at is not None and self.moves.total() >= self.crash_at:
            self.crash_at = None
            raise Crash

    @property
    def exactly_once(self) -> bool:
        """Whether every message was moved, each exactly once."""
        return self.archived == set(self.ids) and set(self.moves.values()) == {1}


def archive_handler(mailbox: FakeMailbox, *, batch: int = 100) -> Any:
    """An archive handler in idempotent, checkpointed steps of ``batch`` messages."""

    async def handle(job: Job, ctx: JobContext) -> None:
        after = ctx.checkpoint.get("after")
        done = int(ctx.checkpoint.get("done", 0))
        total = len(mailbox.ids)
        while page := mailbox.page(after, batch):
            for message_id in page:
                # The idempotent step: a message already in the evidence folder (moved
                # before a crash, after the last checkpoint) is not moved again.
                if message_id not in mailbox.archived:
                    mailbox.move(message_id)
            after, done = page[-1], done + len(page)
            await ctx.progress(done, total, {"after": after, "done": done})

    return handle


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
