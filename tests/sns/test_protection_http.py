"""Protecting the person on an SNS case, and platform reports, over HTTP."""

from __future__ import annotations

from bot.domain.evidence import NoteItem, decode
from tests.sns.conftest import STAFF, texts
from tests.teams.conftest import BotUnderTest


def script_buttons(card: dict) -> list[str]:
    return [a["data"]["script"] for a in card["actions"] if a["verb"] == "playbook.scripts"]


async def report(bot: BotUnderTest, what: str) -> tuple[dict, list[dict]]:
    _, body, sent = await bot.click(
        "incident.report.submit",
        {"submission_id": "protect-0001", "type": "sns-defamation", "what_happened": what},
        **STAFF,
    )
    return body["value"], sent


async def test_sns_report_tells_not_to_reply_personally(bot: BotUnderTest) -> None:
    _, (card,) = await report(bot, "Xで実名をさらされ、拡散されている")
    shown = texts(card)
    assert "個人のアカウントから返信" in shown and "区として内容を確認し、記録しております" in shown
    assert "取引には応じません" not in shown
    assert script_buttons(card)[0] == "phone-pile-on"


async def test_deletion_deal_puts_the_refusal_first(bot: BotUnderTest) -> None:
    _summary, (card,) = await report(bot, "電話で「消してほしければ申請を通せ」と言われた")
    shown = texts(card)
    assert shown.index("取引には応じません") < shown.index("個人のアカウントから返信")
    assert script_buttons(card)[:2] == ["phone-deletion-deal", "counter-apology-deal"]
    # One tap: the script button opens the refusal script.
    button = card["actions"][0]
    _, _body, sent = await bot.click(button["verb"], button["data"], **STAFF)
    assert "お前の名前でXに書いといたぞ" in texts(sent[0])


async def test_other_reports_get_no_sns_card(bot: BotUnderTest) -> None:
    _, _, sent = await bot.click(
        "incident.report.submit",
        {"submission_id": "protect-0002", "type": "mass-email", "what_happened": "毎日100通"},
        **STAFF,
    )
    assert sent == []


async def test_platform_report_is_recorded_as_evidence(bot: BotUnderTest) -> None:
    _summary, (card,) = await report(bot, "Xで名指し")
    case_id = card["actions"][-1]["data"]["case"]
    _, body, _ = await bot.click("sns.platforms.show", {"case": case_id}, **STAFF)
    shown = texts(body["value"])
    assert "情報流通プラットフォーム対処法" in shown and "https://help.x.com/" in shown
    _, body, _ = await bot.click(
        "sns.platform.reported",
        {"case": case_id, "platform": "x", "status": "reported", "answer": "受付番号 123"},
        **STAFF,
    )
    assert f"{case_id} の証拠記録 #2 に残しました" in texts(body["value"])
    store = bot.services.persistence.store
    notes = [decode(e) async for e in store.iter_evidence(case_id)]
    last = notes[-1]
    assert isinstance(last.item, NoteItem) and "X（旧Twitter）" in last.item.text
    assert "受付番号 123" in last.item.text and last.recorded_by.object_id == STAFF["user_aad"]
    _status, body, _ = await bot.click(
        "sns.platform.reported", {"case": case_id, "platform": "myspace"}, **STAFF
    )
    assert "Choose the platform" in body["value"]["message"]
