"""Counting what the bot asks of its database, with SQLAlchemy's engine events.

Shared by tests/teams/test_approval_cost.py, bench/approval.py and bench/cases_at_scale.py:
statements (``BEGIN`` counted as one) and transactions, split into the invoke's own task and the
work that runs in the background (the thread's card update, the job runner).
"""

from __future__ import annotations

import asyncio
from collections.abc import Container, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


class Counter:
    """Statements (BEGIN included) and transactions, the invoke's own task apart."""

    def __init__(self, background: Container[object]) -> None:
        self.statements = 0
        self.transactions = 0
        self.all_statements = 0  # every task: the job runner and card updates included
        self.all_transactions = 0
        self._background = background  # the updates that follow the answer
        self.in_decision = False
        self.decision_statements = 0
        self.decision_transactions = 0

    def _ours(self) -> bool:
        return asyncio.current_task() not in self._background

    def statement(self, *_args: Any) -> None:
        self.all_statements += 1
        if self._ours():
            self.statements += 1
            if self.in_decision:
                self.decision_statements += 1

    def begin(self, *_args: Any) -> None:
        self.all_transactions += 1
        if self._ours():
            self.transactions += 1
            if self.in_decision:
                self.decision_transactions += 1


@contextmanager
def counting(engines: set[AsyncEngine], counter: Counter) -> Iterator[Counter]:
    """Count on ``engines`` while the block runs."""
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", counter.statement)
        event.listen(engine.sync_engine, "begin", counter.begin)
    try:
        yield counter
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", counter.statement)
            event.remove(engine.sync_engine, "begin", counter.begin)
