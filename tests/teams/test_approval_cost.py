"""What one approval costs the database: statements and transactions until the answer.

Counted with SQLAlchemy's engine events on the bot's own engines (SQLite here, the
default), from the invoke's POST to its response: the decision's unit of work plus
what the answer card needs. The updates that follow the answer (the thread's card) are
not counted (they run in their own tasks). A count, not a time: deterministic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.connector import action_invoke, in_channel
from tests.support.dbcount import Counter, counting
from tests.teams.conftest import MANAGER_1, MANAGER_2, BotUnderTest, start_bot, two_managers
from tests.teams.test_escalation_http import report, setup_channel

# The decision's unit of work (SQLite, BEGIN counted): BEGIN, SELECT state FOR UPDATE
# (the case opened by the access check is reused when its state still holds), UPDATE,
# INSERT event, INSERT decision, one INSERT of all the jobs.
MAX_DECISION_STATEMENTS = 6
MAX_DECISION_TRANSACTIONS = 1


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    async for running in start_bot(two_managers(tmp_path)):
        yield running


async def test_the_decision_is_one_transaction_of_six_statements(
    bot: BotUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    await setup_channel(bot)
    await bot.say("hi", **MANAGER_1)
    await bot.say("hi", **MANAGER_2)
    incident_id = await report(bot)
    await bot.run_jobs()
    engines = bot.services.persistence.engines
    counter = Counter(bot.services.escalations._background)
    decisions = bot.services.persistence.decisions
    decide = decisions.decide

    async def counted(*args: Any, **kwargs: Any) -> Any:
        counter.in_decision = True
        try:
            return await decide(*args, **kwargs)
        finally:
            counter.in_decision = False

    decisions.decide = counted  # type: ignore[method-assign]
    data = {"incident": incident_id, "act.mail-protection": "true", "comment": "ok"}
    activity = action_invoke(
        bot.connector_url, "escalation.approve", data, **in_channel(**MANAGER_2)
    )
    with counting({engines.write, engines.read}, counter):
        async with bot.http.post(f"{bot.url}/api/messages", json=activity) as response:
            body = await response.json()
            answered = (counter.statements, counter.transactions)
        await bot.services.escalations.drain()
    assert "承認" in str(body["value"])
    with capsys.disabled():
        print(
            f"\n  one approval: {answered[0]} statements in {answered[1]} transactions"
            f" until the answer; the decision itself {counter.decision_statements} in"
            f" {counter.decision_transactions}"
        )
    assert counter.decision_statements <= MAX_DECISION_STATEMENTS
    assert counter.decision_transactions == MAX_DECISION_TRANSACTIONS
