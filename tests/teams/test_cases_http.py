"""Case list, case detail and tasks over HTTP, as managers, staff and outsiders see them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.connector import in_channel
from tests.teams.conftest import (
    MANAGER_1,
    MANAGER_2,
    OUTSIDER,
    STAFF,
    BotUnderTest,
    start_bot,
    two_managers,
)

PERSONAL_M1 = {"conversation_id": "a:personal-manager-1", **MANAGER_1}


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    async for running in start_bot(two_managers(tmp_path, case_list_page_size=8)):
        yield running


def texts(value: Any) -> str:
    return str(value)


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Action.Execute in the card, wherever it sits."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


async def approved_case(bot: BotUnderTest, submission: str = "sub-cases-00001") -> str:
    """A mass-email case, escalated and approved with the police task (no mail jobs).

    The domain block is not offered: nobody counted a mail-bomb volume for this case.
    """
    await bot.say("<at>Mamoru</at> setup", **in_channel(**MANAGER_1))
    await bot.say("hi", **PERSONAL_M1)
    await bot.say("hi", conversation_id="a:personal-manager-2", **MANAGER_2)
    incident_id = await bot.report(
        submission_id=submission,
        type="mass-email",
        what_happened="同じ人から毎日100通のメール",
        counterpart="angry@example.com",
        **STAFF,
    )
    await bot.run_jobs()
    data = {
        "incident": incident_id,
        "act.police-consultation": "true",
        "act.it-domain-filter": "true",  # not proposed here: ignored
        "comment": "警察へは課長が相談",
    }
    status, _, _ = await bot.click("escalation.approve", data, **in_channel(**MANAGER_1))
    assert status == 200
    return incident_id


async def test_managers_list_their_open_cases_with_open_tasks(bot: BotUnderTest) -> None:
    incident_id = await approved_case(bot)
    (card,) = await bot.say("案件一覧", **PERSONAL_M1)
    shown = texts(card)
    assert "案件一覧（担当部署）" in shown and incident_id in shown
    assert "対応を承認済み" in shown and "angry@example.com" in shown
    assert "未完了の作業 1 件" in shown and "警察" in shown
    # The same from the managers' channel, by @mention.
    (card,) = await bot.say("<at>Mamoru</at> 案件一覧", **in_channel(**MANAGER_2))
    assert incident_id in texts(card)

    # The detail: facts, the timeline with the decision, the tasks with their buttons.
    _, body, _ = await bot.click("case.show", {"incident": incident_id}, **PERSONAL_M1)
    detail = body["value"]
    shown = texts(detail)
    assert f"{incident_id} の詳細" in shown
    assert "→ 上司が確認中" in shown and "警察へは課長が相談" in shown
    assert "警察（生活安全課・サイバー窓口）への相談（担当 山田 課長" in shown
    verbs = {b["verb"] for b in buttons(detail)}
    assert {"task.done", "task.assign", "escalation.refresh", "escalation.export"} <= verbs


async def test_tasks_are_handed_over_and_done_by_managers_only(bot: BotUnderTest) -> None:
    incident_id = await approved_case(bot)
    police = {"incident": incident_id, "task": "police-consultation", "origin": "detail"}
    # Staff and outsiders cannot touch them; an outsider is told the case does not exist.
    _, body, _ = await bot.click("task.done", police, **STAFF)
    assert "この部署の上司だけ" in body["value"]["message"]
    _, body, _ = await bot.click("task.done", police, **OUTSIDER)
    assert "見つからないか" in texts(body)
    # Only to a manager of the department.
    _, body, _ = await bot.click("task.assign", {**police, "owner": "aad-staff-1"}, **PERSONAL_M1)
    assert "担当にできるのは部署の上司だけ" in body["value"]["message"]
    _, body, _ = await bot.click("task.assign", {**police, "owner": "aad-manager-2"}, **PERSONAL_M1)
    assert "警察（生活安全課・サイバー窓口）への相談（担当 佐藤 係長" in texts(body["value"])
    bot.connector.clear()
    _, body, _ = await bot.click("task.done", police, **in_channel(**MANAGER_2))
    assert "☑ 警察（生活安全課・サイバー窓口）への相談" in texts(body["value"])
    # The thread's card says the same for everyone.
    updates = [s for s in bot.connector.sent if s.method == "PUT"]
    assert updates and "☑ 警察" in texts(updates[-1].activity)
    (card,) = await bot.say("cases", **PERSONAL_M1)
    assert incident_id in texts(card) and "未完了の作業 1 件" not in texts(card)
    # Unknown task kinds are a clear message, not an error.
    _, body, _ = await bot.click("task.done", {**police, "task": "nope"}, **PERSONAL_M1)
    assert "その作業がありません" in body["value"]["message"]


async def test_staff_see_only_their_own_cases(bot: BotUnderTest) -> None:
    incident_id = await approved_case(bot)
    (card,) = await bot.say("自分の案件", **STAFF)
    assert incident_id in texts(card) and "自分の案件" in texts(card)
    _, body, _ = await bot.click("case.show", {"incident": incident_id}, **STAFF)
    detail = body["value"]
    assert "警察" in texts(detail)  # the staff member sees what is being done
    assert not {"task.done", "task.assign", "escalation.export"} & {
        b["verb"] for b in buttons(detail)
    }
    # Staff asking for the managers' list get their own cases, and are told so.
    (card,) = await bot.say("案件一覧", **STAFF)
    assert "上司向け" in texts(card) and incident_id in texts(card)
    # Someone else sees nothing, and the detail answers as for an unknown id.
    (card,) = await bot.say("案件一覧", **OUTSIDER)
    assert incident_id not in texts(card) and "該当する案件はありません" in texts(card)
    _, body, _ = await bot.click("case.show", {"incident": incident_id}, **OUTSIDER)
    _, unknown, _ = await bot.click("case.show", {"incident": "KH-2026-9999"}, **OUTSIDER)
    assert texts(body) == texts(unknown) and "見つからないか" in texts(body)


async def test_the_list_pages_and_filters(bot: BotUnderTest) -> None:
    await bot.say("<at>Mamoru</at> setup", **in_channel(**MANAGER_1))
    ids = [
        await bot.report(
            submission_id=f"sub-paging-{n:05d}",
            type="mass-email",
            what_happened="毎日大量のメール",
            counterpart=f"sender{n}@example.com",
            **STAFF,
        )
        for n in range(10)
    ]
    await bot.run_jobs()
    await bot.click(
        "escalation.reject", {"incident": ids[0], "comment": "重複"}, **in_channel(**MANAGER_1)
    )
    (card,) = await bot.say("案件一覧", **PERSONAL_M1)
    shown = texts(card)
    assert "9 件（1/2 ページ）" in shown
    assert ids[9] in shown and ids[2] in shown and ids[1] not in shown  # newest first, 8
    assert [b["verb"] for b in card["actions"]] == ["cases.list"]  # next page only
    next_page = card["actions"][0]["data"]
    _, body, _ = await bot.click("cases.list", next_page, **PERSONAL_M1)
    shown = texts(body["value"])
    assert "2/2 ページ" in shown and ids[1] in shown and ids[2] not in shown
    # The finished filter holds the rejected case only.
    _, body, _ = await bot.click(
        "cases.list", {"scope": "managed", "filter": "finished"}, **PERSONAL_M1
    )
    shown = texts(body["value"])
    assert ids[0] in shown and ids[1] not in shown and "対応不要と判断" in shown
    # Hostile paging and filters fall back to something sensible.
    _, body, _ = await bot.click(
        "cases.list", {"scope": "everyone", "filter": "x", "page": 10**9}, **PERSONAL_M1
    )
    assert "2/2 ページ" in texts(body["value"])


async def test_in_a_channel_only_that_channels_managers_list_is_shown(bot: BotUnderTest) -> None:
    incident_id = await approved_case(bot)
    # The reporter asks in a channel: their cases are not posted for the channel to read.
    (card,) = await bot.say("自分の案件", **in_channel(**STAFF))
    assert incident_id not in texts(card) and "個人チャット" in texts(card)
    (card,) = await bot.say("案件一覧", **in_channel(**STAFF))
    assert incident_id not in texts(card)
    # A manager in a channel that is not the department's managers' channel: same answer.
    (card,) = await bot.say("案件一覧", **in_channel("19:other@thread.tacv2", **MANAGER_1))
    assert incident_id not in texts(card) and "個人チャット" in texts(card)
    # In the department's channel, its managers get the list.
    (card,) = await bot.say("案件一覧", **in_channel(**MANAGER_1))
    assert incident_id in texts(card)
