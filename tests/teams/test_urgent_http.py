"""「上司にすぐ知らせる」 over HTTP: the safety card, the URGENT thread with mentions, the DMs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.incidents import IncidentState, IncidentType
from bot.domain.triage import TRIAGE_RECORD
from tests.support.connector import MANAGERS_CHANNEL, in_channel
from tests.teams.conftest import MANAGER_1, MANAGER_2, STAFF, BotUnderTest, start_bot, two_managers


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    async for running in start_bot(two_managers(tmp_path)):
        yield running


def _actions(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            found.append(node)
        for value in node.values():
            found.extend(_actions(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_actions(item))
    return found


def _alert_button(card: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in _actions(card) if a.get("verb") == "urgent.alert")


async def _managers_known(bot: BotUnderTest) -> None:
    # Managers have talked to Mamoru in their personal chats (so they can be reached).
    for manager in (MANAGER_1, MANAGER_2):
        await bot.say("こんにちは", conversation_id=f"a:personal-{manager['user_id']}", **manager)
    await bot.say("<at>Mamoru</at> setup", **in_channel(**MANAGER_1))


@pytest.mark.parametrize(
    "text", ["殺すぞと言われました", "助けて", "今、出口でその人が待っています"]
)
async def test_danger_gets_the_safety_card_first(bot: BotUnderTest, text: str) -> None:
    cards = await bot.say(text, **STAFF)
    assert len(cards) == 1
    card = cards[0]
    first = str(card["body"][0])
    assert "110" in str(card["body"][:4]) or "110" in first
    assert "離れ" in first  # move away first
    button = _alert_button(card)
    assert button["title"] == "上司にすぐ知らせる"
    assert any(e.get("type") == "Input.Text" and e.get("id") == "where" for e in card["body"])
    # Care comes afterwards, one tap away, not on the first screen.
    assert "産業医" not in str(card["body"][0])


async def test_the_alert_reaches_the_channel_with_mentions_and_each_manager(
    bot: BotUnderTest,
) -> None:
    await _managers_known(bot)
    card = (await bot.say("殺すぞと言われました", **STAFF))[0]
    data = {**_alert_button(card)["data"], "where": "1階窓口の奥"}

    status, body, _ = await bot.click("urgent.alert", data, **STAFF)

    assert status == 200
    confirmation = str(body["value"])
    assert "上司に知らせました" in confirmation and "2人" in confirmation
    thread = bot.connector.threads[-1]["params"]
    assert thread["channelData"]["channel"]["id"] == MANAGERS_CHANNEL
    thread_card = thread["activity"]["attachments"][0]["content"]
    shown = str(thread_card["body"])
    assert "田中 花子" in shown and "1階窓口の奥" in shown
    mentioned = {e["mentioned"]["id"] for e in thread_card["msteams"]["entities"]}
    assert mentioned == {"29:manager-1", "29:manager-2"}
    personal = [s for s in bot.connector.sent if s.conversation_id.startswith("a:personal-29:m")]
    assert {s.conversation_id for s in personal} == {
        "a:personal-29:manager-1",
        "a:personal-29:manager-2",
    }
    assert all("1階窓口の奥" in str(s.cards) for s in personal)

    # The case is recorded, escalated, with the model that routed the message.
    incident_id = confirmation.split("案件 ")[1][:12]
    incident = await bot.services.persistence.store.load_incident(incident_id)
    assert incident.type is IncidentType.URGENT_SAFETY
    assert incident.state is IncidentState.ESCALATED
    assert incident.physical_threat
    triage = await bot.services.persistence.registry.get(TRIAGE_RECORD, incident_id)
    assert triage is not None
    assert triage["model_id"] == bot.services.guide.matcher.model_id
    assert triage["route"] == "urgent-safety" and triage["confidence"] is not None


async def test_a_second_click_does_not_alert_twice(bot: BotUnderTest) -> None:
    await _managers_known(bot)
    card = (await bot.say("助けて", **STAFF))[0]
    data = _alert_button(card)["data"]
    await bot.click("urgent.alert", data, **STAFF)
    threads = len(bot.connector.threads)
    _, body, _ = await bot.click("urgent.alert", data, **STAFF)
    assert len(bot.connector.threads) == threads
    assert "上司に知らせました" in str(body["value"])


async def test_without_a_channel_the_staff_member_is_told_what_to_do(bot: BotUnderTest) -> None:
    card = (await bot.say("もう限界です", **STAFF))[0]
    _, body, _ = await bot.click("urgent.alert", _alert_button(card)["data"], **STAFF)
    text = str(body["value"])
    assert "直接声をかけ" in text and "110" in text
    assert not bot.connector.threads


async def test_unsure_messages_ask_back_with_the_alert(bot: BotUnderTest) -> None:
    card = (await bot.say("お客さんのことで相談です", **STAFF))[0]
    text = str(card)
    assert "お答えできません" not in text
    assert "どれに近いですか" in text
    assert _alert_button(card)["title"] == "上司にすぐ知らせる"
    titles = {a["title"] for a in _actions(card)}
    assert {"身の危険を感じたとき（緊急）", "電話・窓口での威圧や長時間の拘束"} <= titles


async def test_the_ask_back_says_where_harassment_by_colleagues_goes(bot: BotUnderTest) -> None:
    # Not customer harassment, but whoever writes this is not left without a next step.
    card = (await bot.say("お客さんのことで相談です", **STAFF))[0]
    assert "ハラスメント相談窓口" in str(card) and "産業医" in str(card)
    card = (await bot.say("I need to talk about a customer", locale="en-US", **STAFF))[0]
    assert "harassment consultation desk" in str(card)
