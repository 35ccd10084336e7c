"""Safety and care on an SNS case over HTTP, against the local Graph service (calendar)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from graph.sandbox import RunningSandbox, Tenant, make_sandbox, seed_demo, start_sandbox
from graph.sandbox.seed import DEMO_MAILBOX, DEMO_MANAGERS_GROUP_ID, DEMO_USER_IDS
from tests.sns.conftest import texts
from tests.teams.conftest import BotUnderTest, start_bot

CHANNEL = "19:managers@thread.tacv2"
STAFF = {"user_aad": DEMO_USER_IDS[DEMO_MAILBOX], "user_id": "29:tanaka", "user_name": "田中 花子"}
KACHO = {
    "user_aad": DEMO_USER_IDS["kacho@city.example.jp"],
    "user_id": "29:kacho",
    "user_name": "高橋 課長",
}


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    tenant = Tenant()
    seed_demo(tenant, flood=0)
    running = await start_sandbox(make_sandbox(tenant))
    yield running
    await running.close()


@pytest.fixture
async def bot(tmp_path: Path, sandbox: RunningSandbox) -> AsyncIterator[BotUnderTest]:
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        graph_sandbox_url=sandbox.root_url,
        graph_sandbox_embedded=False,
        manager_group_id=DEMO_MANAGERS_GROUP_ID,
        _env_file=None,
    )
    async for running in start_bot(settings):
        yield running


def in_channel(**who: str) -> dict[str, Any]:
    return {
        "conversation_id": f"{CHANNEL};messageid=1",
        "conversation_type": "channel",
        "channelData": {"channel": {"id": CHANNEL}},
        **who,
    }


async def escalated_sns_case(bot: BotUnderTest) -> str:
    await bot.say("setup", **in_channel(**KACHO))
    await bot.say("こんにちは", **STAFF)
    _, body, _ = await bot.click(
        "incident.report.submit",
        {
            "submission_id": "care-0001-abcdef",
            "type": "sns-defamation",
            "what_happened": "Xで名指し",
        },
        **STAFF,
    )
    title = body["value"]["body"][0]["text"]
    incident_id = title[title.index("KH-") : title.index("KH-") + 12]
    await bot.run_jobs()
    return incident_id


async def test_approved_safety_and_care_become_a_tracked_checklist(
    bot: BotUnderTest, sandbox: RunningSandbox
) -> None:
    incident_id = await escalated_sns_case(bot)
    thread = texts(bot.connector.threads[0]["params"])
    assert "安全確保" in thread or "safety" in thread.lower()  # proposed on the thread card
    _, body, _ = await bot.click(
        "escalation.approve",
        {"incident": incident_id, "act.safety-measures": "true", "act.care-followup": "true"},
        **in_channel(**KACHO),
    )
    shown = texts(body["value"])
    assert "一時的に窓口業務から外す（担当 高橋 課長、期限" in shown
    assert "1on1フォローアップ" in shown and "産業医・カウンセラーへの紹介" in shown

    await bot.run_jobs()
    await bot.run_jobs()  # a second run adds nothing
    tenant = sandbox.sandbox.tenant
    events = list(tenant.mailboxes[DEMO_USER_IDS["kacho@city.example.jp"]].events.values())
    assert len(events) == 1
    (event,) = events
    assert incident_id in event["subject"] and event["transactionId"].startswith("mamoru-")
    assert "名指し" not in str(event)  # the case id only, no report text

    # The staff member cannot tick the manager's checklist; the manager can.
    _status, body, _ = await bot.click(
        "sns.task.done", {"incident": incident_id, "task": "off-counter"}, **STAFF
    )
    assert "管理職だけ" in body["value"]["message"]
    bot.connector.clear()
    _, body, _ = await bot.click(
        "sns.task.done", {"incident": incident_id, "task": "off-counter"}, **in_channel(**KACHO)
    )
    assert "☑ 一時的に窓口業務から外す" in texts(body["value"])
    updates = [s for s in bot.connector.sent if s.method == "PUT"]
    assert updates and "☑ 一時的に窓口業務から外す" in texts(updates[-1].activity)
    tasks = await bot.services.escalations.task_source(incident_id)  # type: ignore[misc]
    assert [t.done for t in tasks].count(True) == 1
