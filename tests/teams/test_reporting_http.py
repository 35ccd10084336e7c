"""Reporting an incident from Teams, over HTTP: form, validation, one case per submission."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from bot.domain.locale import Locale
from bot.domain.triage import TRIAGE_RECORD
from tests.support.connector import in_channel
from tests.teams.conftest import BotUnderTest


def _submit_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "locale": "ja",
        "submission_id": "sub-0001-abcdef",
        "type": "mass-email",
        "what_happened": "同じ人から毎日100通以上のメールが届きます。",
        "counterpart": "angry@example.com",
        "started_on": "2026-11-01",
        "physical_threat": "false",
    }
    data.update(overrides)
    return data


def _ids(card: dict[str, Any]) -> set[str]:
    return {e.get("id") for e in card["body"] if isinstance(e, dict) and e.get("id")}


async def test_report_command_opens_the_form(bot: BotUnderTest) -> None:
    cards = await bot.say("報告")
    assert {"type", "what_happened", "counterpart", "started_on", "physical_threat"} <= _ids(
        cards[0]
    )


async def test_report_button_on_guidance_keeps_guidance_and_sends_form(bot: BotUnderTest) -> None:
    status, body, cards = await bot.click("incident.report.open", {"playbook": "mass-email"})
    assert status == 200
    assert "what_happened" not in _ids(body["value"])  # the guidance stays
    assert "what_happened" in _ids(cards[0])
    form_type = next(e for e in cards[0]["body"] if e.get("id") == "type")
    assert form_type["value"] == "mass-email"


async def test_submit_confirms_with_incident_id(bot: BotUnderTest) -> None:
    status, body, _ = await bot.click("incident.report.submit", _submit_data())
    assert status == 200
    title = body["value"]["body"][0]["text"]
    assert "KH-" in title and "受け付けました" in title


async def test_double_click_makes_one_incident(bot: BotUnderTest) -> None:
    results = await asyncio.gather(
        *(bot.click("incident.report.submit", _submit_data()) for _ in range(5))
    )
    titles = {r[1]["value"]["body"][0]["text"] for r in results}
    assert len(titles) == 1
    cards = await bot.say("自分の案件")
    listed = [
        c for c in cards[0]["body"] if (c.get("selectAction") or {}).get("verb") == "case.show"
    ]
    assert len(listed) == 1


async def test_invalid_form_comes_back_with_problems_and_values(bot: BotUnderTest) -> None:
    status, body, _ = await bot.click(
        "incident.report.submit",
        _submit_data(what_happened="", counterpart="not an address!!", started_on="2099-01-01"),
    )
    assert status == 200
    card = body["value"]
    problems = card["body"][1]["items"]
    text = " ".join(p["text"] for p in problems)
    assert "何があったか" in text and "メールアドレス" in text and "未来" in text
    counterpart = next(e for e in card["body"] if e.get("id") == "counterpart")
    assert counterpart["value"] == "not an address!!"  # nothing the person typed is lost


async def test_text_over_the_limit_is_refused_clearly(bot: BotUnderTest) -> None:
    _, body, _ = await bot.click(
        "incident.report.submit", _submit_data(what_happened="あ" * 50_000)
    )
    assert "文字以内" in body["value"]["body"][1]["items"][0]["text"]


async def test_physical_threat_is_flagged(bot: BotUnderTest) -> None:
    _, body, _ = await bot.click(
        "incident.report.submit",
        _submit_data(
            submission_id="sub-threat-0001",
            type="personal-fixation",
            physical_threat="true",
            counterpart="",
        ),
    )
    assert "110" in str(body["value"])


async def test_my_incidents_lists_only_mine(bot: BotUnderTest) -> None:
    await bot.click("incident.report.submit", _submit_data())
    cards = await bot.say("my incidents", user_aad="someone-else", locale="en-US")
    assert "Cases (my cases)" in str(cards[0]) and "No cases match." in str(cards[0])
    assert "KH-" not in str(cards[0])


def _button(card: Any, verb: str) -> dict[str, Any]:
    """The first Action.Execute with ``verb`` anywhere in ``card`` (ShowCards included)."""
    if isinstance(card, dict):
        if card.get("verb") == verb:
            return card
        children: Any = list(card.values())
    elif isinstance(card, list):
        children = card
    else:
        children = []
    for child in children:
        try:
            return _button(child, verb)
        except LookupError:
            continue
    raise LookupError(verb)


async def _report_from(bot: BotUnderTest, form: dict[str, Any]) -> str:
    """Fill in and submit ``form``; the new incident's id."""
    submit = _button(form, "incident.report.submit")["data"]
    filled = _submit_data(**submit)  # the card's data (submission id, triage) + the inputs
    _, body, _ = await bot.click("incident.report.submit", filled)
    return _incident_id(body)


def _incident_id(body: dict[str, Any]) -> str:
    found = re.search(r"KH-\d{4}-\d{4,}", str(body["value"]["body"][0]["text"]))
    assert found, body
    return found.group()


async def test_a_report_from_a_triaged_message_stores_how_it_was_triaged(
    bot: BotUnderTest,
) -> None:
    text = "同じ人から毎日100通以上メールが届いて仕事になりません"
    answer = bot.services.guide.answer(text, Locale.JA)
    assert answer.playbook_id == "mass-email"
    guidance = (await bot.say(text))[0]
    # Through the model replies to the report form, as a staff member would go.
    scripts = _button(guidance, "playbook.scripts")["data"]
    _, _, sent = await bot.click("playbook.scripts", scripts)
    report = _button(sent[0], "incident.report.open")["data"]
    _, _, sent = await bot.click("incident.report.open", report)

    incident_id = await _report_from(bot, sent[0])

    record = await bot.services.persistence.registry.get(TRIAGE_RECORD, incident_id)
    assert record is not None
    assert record["model_id"] == bot.services.guide.matcher.model_id
    assert record["model_id"].startswith("triage-")
    assert record["route"] == "mass-email"
    assert record["confidence"] == answer.confidence


async def test_a_report_after_asking_back_stores_the_ask(bot: BotUnderTest) -> None:
    text = "お客さんのことで相談です"
    assert bot.services.guide.answer(text, Locale.JA).verdict == "ask"
    ask_back = (await bot.say(text))[0]
    choice = _button(ask_back, "playbook.show")["data"] | {"playbook": "mass-email"}
    _, body, _ = await bot.click("playbook.show", choice)
    _, _, sent = await bot.click(
        "incident.report.open", _button(body["value"], "incident.report.open")["data"]
    )

    record = await bot.services.persistence.registry.get(
        TRIAGE_RECORD, await _report_from(bot, sent[0])
    )

    assert record is not None
    assert record["model_id"] == bot.services.guide.matcher.model_id
    assert record["route"] == "ask"


async def test_a_report_opened_by_command_says_nothing_was_triaged(bot: BotUnderTest) -> None:
    form = (await bot.say("報告"))[0]

    record = await bot.services.persistence.registry.get(
        TRIAGE_RECORD, await _report_from(bot, form)
    )

    assert record is not None
    assert record["model_id"] == "none" and record["route"] == "none"
    assert record["confidence"] is None


async def test_a_forged_triage_in_the_card_data_is_not_stored(bot: BotUnderTest) -> None:
    forged = {"model": "<script>", "outcome": "mass-email", "confidence": 7}
    _, body, _ = await bot.click("incident.report.submit", _submit_data(triage=forged))
    incident_id = _incident_id(body)

    record = await bot.services.persistence.registry.get(TRIAGE_RECORD, incident_id)

    assert record is not None and record["model_id"] == "none"


async def test_a_report_from_a_channel_posts_nothing_in_the_channel(bot: BotUnderTest) -> None:
    sns = _submit_data(type="sns-defamation", counterpart="https://x.com/troll")
    general = in_channel("19:general@thread.tacv2")
    status, body, cards = await bot.click("incident.report.submit", sns, **general)
    assert status == 200 and "報告を受け付けました" in str(body["value"])  # for the reporter
    # Nothing lands in the channel where colleagues would read that she reported.
    assert not [s for s in bot.connector.sent if s.conversation_id.startswith("19:general")]
    assert cards == []  # she has no personal chat with Mamoru yet: nowhere private to send
    assert "個人チャットを開いて" in str(body["value"])  # told to her alone
    # Once she has one, how to protect oneself arrives there, still nothing in the channel.
    await bot.say("こんにちは")
    _, _, cards = await bot.click(
        "incident.report.submit", {**sns, "submission_id": "sub-0002-abcdef"}, **general
    )
    assert not [s for s in bot.connector.sent if s.conversation_id.startswith("19:general")]
    assert [s.conversation_id for s in bot.connector.sent] == ["a:personal-staff-1"]
    assert "あなた自身を守るために" in str(cards)
