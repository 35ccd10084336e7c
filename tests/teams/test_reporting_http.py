"""Reporting an incident from Teams, over HTTP: form, validation, one case per submission."""

from __future__ import annotations

import asyncio
from typing import Any

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
