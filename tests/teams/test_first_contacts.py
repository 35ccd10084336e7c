"""First contacts: everyone who writes is registered (for notices), in batches, after the answer."""

from __future__ import annotations

import asyncio

from bot.cases.staff_notices import USER
from tests.support.connector import user_activity
from tests.support.dbcount import Counter, counting
from tests.teams.conftest import BotUnderTest

PEOPLE = 20


async def test_a_burst_of_first_contacts_is_registered_in_a_few_transactions(
    sample_bot: BotUnderTest,
) -> None:
    engines = sample_bot.services.persistence.engines
    counter = Counter(background=())
    with counting({engines.write, engines.read}, counter):
        responses = await asyncio.gather(
            *(
                sample_bot.post(
                    user_activity(
                        sample_bot.connector_url,
                        text="同じ人から毎日300通もメールが届きます",
                        locale="ja-JP" if n % 2 else "en-US",
                        user_id=f"29:new-{n}",
                        user_aad=f"aad-new-{n}",
                        user_name=f"職員 {n}",
                        conversation_id=f"a:new-{n}",
                    )
                )
                for n in range(PEOPLE)
            )
        )
        await sample_bot.services.escalations.drain()
    assert all(r.status in (200, 202) for r in responses)
    assert len(sample_bot.connector.cards()) == PEOPLE  # everyone got their answer

    registry = sample_bot.services.persistence.registry
    keys = [f"aad-new-{n}" for n in range(PEOPLE)]
    records = await registry.get_many(USER, keys)
    assert sorted(records) == sorted(keys)
    for n in range(PEOPLE):
        record = records[f"aad-new-{n}"]
        assert record["teams_id"] == f"29:new-{n}"
        assert record["name"] == f"職員 {n}"
        assert record["reference"]["conversation"]["id"] == f"a:new-{n}"
        assert record["reference"]["locale"] == "ja"  # the language they wrote in
    # One read and one write per batch, not per person (20 people: 40 transactions before).
    assert counter.all_transactions <= PEOPLE // 2, counter.all_transactions

    # Their next messages touch the database no more.
    before = counter.all_transactions
    with counting({engines.write, engines.read}, counter):
        for n in range(3):
            await sample_bot.say(
                "同じ人から毎日300通もメールが届きます",
                user_id=f"29:new-{n}",
                user_aad=f"aad-new-{n}",
                user_name=f"職員 {n}",
                conversation_id=f"a:new-{n}",
            )
    assert counter.all_transactions == before


async def test_the_record_follows_the_language_and_the_chat_a_known_person_writes_from(
    sample_bot: BotUnderTest,
) -> None:
    registry = sample_bot.services.persistence.registry
    who = {"user_id": "29:moving", "user_aad": "aad-moving", "user_name": "職員 移動"}

    async def reference() -> tuple[str, str]:
        """The stored reference's language and chat."""
        await sample_bot.services.escalations.drain()
        record = await registry.get(USER, "aad-moving")
        assert record is not None
        return record["reference"]["locale"], record["reference"]["conversation"]["id"]

    await sample_bot.say("同じ人から毎日300通もメールが届きます", conversation_id="a:one", **who)
    await sample_bot.say("窓口で怒鳴られました", conversation_id="a:one", **who)
    assert await reference() == ("ja", "a:one")
    await sample_bot.say("I get 300 emails a day", locale="en-US", conversation_id="a:one", **who)
    assert await reference() == ("en", "a:one")  # notices follow the language they last wrote
    await sample_bot.say("I get 300 emails a day", locale="en-US", conversation_id="a:two", **who)
    assert await reference() == ("en", "a:two")
    await sample_bot.say("窓口で怒鳴られました", conversation_id="a:two", **who)
    assert await reference() == ("ja", "a:two")
