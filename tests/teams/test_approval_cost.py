"""What one approval costs the database: statements and transactions until the answer.

Counted with SQLAlchemy's engine events on the bot's own engines, on SQLite (``BEGIN``
counted as a statement) and on PostgreSQL, from the invoke's POST to its response: the
access check's read of the case, the decision's unit of work and whatever the answer
card needs beyond what is in hand. The updates that follow the answer (the thread's card,
the staff member's notice, linked cases) run in background tasks and are not counted.
A count, not a time: deterministic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from tests.store.backends import postgres_url
from tests.support.connector import action_invoke, in_channel
from tests.support.dbcount import Counter, counting
from tests.teams.conftest import (
    BACKENDS,
    MANAGER_1,
    MANAGER_2,
    BotUnderTest,
    start_bot_on,
    two_managers,
)
from tests.teams.test_escalation_http import report, setup_channel

__all__ = ["postgres_url"]

# Issue 12: per approval, until the answer.
MAX_STATEMENTS = 12
MAX_TRANSACTIONS = 3
# The decision's unit of work (SQLite, BEGIN counted): BEGIN, SELECT state FOR UPDATE
# (the case opened by the access check is reused when its state still holds), UPDATE,
# INSERT event, INSERT decision, one INSERT of all the jobs (+ one of the tasks).
# (The state check and the move are one compare-and-set UPDATE when the access check's
# copy of the case is reused, so this bound leaves one statement to spare.)
MAX_DECISION_STATEMENTS = 7
MAX_DECISION_TRANSACTIONS = 1

MAIL_PROTECTION = {"act.mail-protection": "true", "comment": "ok"}
# The card's defaults for a repeated-mail case: mail protection, the cut-off declaration
# (a draft awaiting its preview, with its reference number) and a police consultation task.
WITH_A_MAIL = {
    "act.mail-protection": "true",
    "act.cutoff-declaration": "true",
    "draft.cutoff-declaration": "本件への回答は以上です。",
    "act.police-consultation": "true",
    "comment": "ok",
}
# What follows the answer in the background: the staff member's notice from the case in
# hand (stored in the notice outbox, then sent and marked sent), then one refresh of
# everyone's copy of the card (the case and its parts on one connection, the linked cases
# on theirs).
MAX_AFTER_STATEMENTS = 22
MAX_AFTER_TRANSACTIONS = 6
# Approving a mail also writes its draft and draws its number: two more statements.
MAX_DECISION_STATEMENTS_WITH_A_MAIL = MAX_DECISION_STATEMENTS + 2


@pytest.fixture(params=BACKENDS)
async def bot(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    def settings(database_url: str) -> Settings:
        return two_managers(tmp_path, database_url=database_url)

    async for running in start_bot_on(request, settings):
        yield running


async def approve_counted(bot: BotUnderTest, data: dict[str, str]) -> tuple[Counter, Any]:
    """Approve a freshly escalated case with ``data``; the counts and the answer's body."""
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
    activity = action_invoke(
        bot.connector_url,
        "escalation.approve",
        {"incident": incident_id, **data},
        **in_channel(**MANAGER_2),
    )
    with counting({engines.write, engines.read}, counter):
        async with bot.http.post(f"{bot.url}/api/messages", json=activity) as response:
            body = await response.json()
            answered = Counter(())
            answered.statements, answered.transactions = counter.statements, counter.transactions
        await bot.services.escalations.drain()
    return answered, (counter, body)


def show(
    label: str, answered: Counter, counter: Counter, capsys: pytest.CaptureFixture[str]
) -> None:
    after = counter.all_statements - answered.statements
    after_tx = counter.all_transactions - answered.transactions
    with capsys.disabled():
        print(
            f"\n  {label}: {answered.statements} statements in {answered.transactions}"
            f" transactions until the answer; the decision itself"
            f" {counter.decision_statements} in {counter.decision_transactions};"
            f" after the answer (notice, thread card) {after} in {after_tx}"
        )


async def test_an_approval_costs_at_most_twelve_statements_in_three_transactions(
    bot: BotUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    answered, (counter, body) = await approve_counted(bot, MAIL_PROTECTION)
    card = str(body["value"])
    assert "承認" in card
    show("mail protection", answered, counter, capsys)
    assert answered.statements <= MAX_STATEMENTS
    assert answered.transactions <= MAX_TRANSACTIONS
    assert counter.decision_statements <= MAX_DECISION_STATEMENTS
    assert counter.decision_transactions == MAX_DECISION_TRANSACTIONS
    assert counter.all_statements - answered.statements <= MAX_AFTER_STATEMENTS
    assert counter.all_transactions - answered.transactions <= MAX_AFTER_TRANSACTIONS


async def test_an_approval_with_a_mail_writes_its_draft_in_the_decisions_transaction(
    bot: BotUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    answered, (counter, body) = await approve_counted(bot, WITH_A_MAIL)
    card = str(body["value"])
    # The answer shows the draft awaiting its preview, rendered from what was written.
    assert "承認" in card and "送信前の確認待ち" in card
    show("mail protection + cut-off declaration + police task", answered, counter, capsys)
    assert answered.statements <= MAX_STATEMENTS
    assert answered.transactions <= MAX_TRANSACTIONS
    assert counter.decision_statements <= MAX_DECISION_STATEMENTS_WITH_A_MAIL
    assert counter.decision_transactions == MAX_DECISION_TRANSACTIONS
    assert counter.all_statements - answered.statements <= MAX_AFTER_STATEMENTS
    assert counter.all_transactions - answered.transactions <= MAX_AFTER_TRANSACTIONS
    mails = bot.services.escalations.mails
    assert mails is not None
    incident_id = body["value"]["refresh"]["action"]["data"]["incident"]
    (draft,) = await mails.drafts(incident_id)
    assert draft.mail.body == "本件への回答は以上です。"
    assert draft.mail.subject.endswith("-1）")  # the day's first reference number
