"""Evidence bundles reach the person who asked: personal chat and thread, one-time links."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.connector import MANAGERS_CHANNEL, in_channel
from tests.teams.conftest import (
    MANAGER_1,
    MANAGER_2,
    OUTSIDER,
    STAFF,
    BotUnderTest,
    start_bot,
    two_managers,
)
from tests.teams.test_protection_flow import download, download_url

PERSONAL_M1 = {"conversation_id": "a:personal-manager-1", **MANAGER_1}


class Clock:
    def __init__(self) -> None:
        self.at = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(tmp_path: Path, clock: Clock) -> AsyncIterator[BotUnderTest]:
    async for running in start_bot(two_managers(tmp_path), clock=clock):
        yield running


async def escalated(bot: BotUnderTest) -> str:
    await bot.say("<at>Mamoru</at> setup", **in_channel(**MANAGER_1))
    incident_id = await bot.report(
        submission_id="sub-export-00001",
        type="mass-email",
        what_happened="毎日大量のメール",
        counterpart="angry@example.com",
        **STAFF,
    )
    await bot.run_jobs()
    return incident_id


def sent_to(bot: BotUnderTest, conversation: str) -> list[dict[str, Any]]:
    """New messages (not card updates) in a conversation."""
    return [
        s.activity
        for s in bot.connector.sent
        if s.conversation_id.startswith(conversation) and s.method == "POST"
    ]


async def test_the_requester_gets_a_one_time_link_and_the_thread_is_told(
    bot: BotUnderTest, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Mamoru pins the access log to WARNING (bot.logs.QUIET_LIBRARIES), and whichever test
    # configured logging first leaves it so: open it here, so that the check below proves
    # the secret is missing from a log that does record every URL.
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    incident_id = await escalated(bot)
    await bot.say("hi", **PERSONAL_M1)
    _, body, _ = await bot.click(
        "escalation.export", {"incident": incident_id}, **in_channel(**MANAGER_1)
    )
    assert "作成しています" in str(body["value"])
    bot.connector.clear()
    await bot.run_jobs()
    (personal,) = sent_to(bot, "a:personal-manager-1")
    assert "証拠一式ができました" in str(personal) and "1回限り" in str(personal)
    (thread,) = sent_to(bot, MANAGERS_CHANNEL)
    assert "山田 課長 さんの依頼" in str(thread) and "個人チャットに届きます" in str(thread)
    assert "#k=" not in str(thread)  # no link in the channel everyone reads

    url = download_url(personal)
    secret = url.split("#k=")[1]
    link = url.split("/exports/")[1].split("#")[0]
    async with bot.http.post(f"{bot.url}/exports/{link}", data={"k": "wrong" * 9}) as response:
        assert response.status == 404  # a wrong secret uses nothing up
    assert (await download(bot, url))[:2] == b"PK"
    await download(bot, url, status=404)  # once only
    # The secret never reached a URL the server saw, hence no log line of any kind.
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert any(link in record.getMessage() for record in caplog.records if "aiohttp" in record.name)

    # The thread's button gives the requester a fresh link (their view only, and their chat).
    bot.connector.clear()
    data = thread["attachments"][0]["content"]["actions"][0]["data"]
    _, body, _ = await bot.click("export.link", data, **in_channel(**MANAGER_1))
    fresh = body["value"]
    assert "個人チャットに送りました" in str(fresh)
    assert download_url({"attachments": [{"content": fresh}]}) != url
    (copy,) = sent_to(bot, "a:personal-manager-1")
    clock.at += dt.timedelta(minutes=11)
    await download(bot, download_url(copy), status=404)  # short-lived
    # Nobody else gets one: another manager is told it is not theirs, others "not found".
    _, body, _ = await bot.click("export.link", data, **in_channel(**MANAGER_2))
    assert "別の人の依頼" in str(body["value"]) and "#k=" not in str(body["value"])
    _, body, _ = await bot.click("export.link", {**data, "export": "nope"}, **OUTSIDER)
    assert "見つからないか" in str(body["value"])


async def test_a_requester_mamoru_cannot_reach_is_told_how_to_fix_it(bot: BotUnderTest) -> None:
    incident_id = await escalated(bot)
    _, body, _ = await bot.click(
        "escalation.export", {"incident": incident_id}, **in_channel(**MANAGER_2)
    )
    assert "一度話しかけ" in str(body["value"])  # said at once, not after the job
    bot.connector.clear()
    await bot.run_jobs()
    (thread,) = sent_to(bot, MANAGERS_CHANNEL)
    assert "佐藤 係長 さんが Mamoru と個人チャットで一度話しかけて" in str(thread)
    data = thread["attachments"][0]["content"]["actions"][0]["data"]
    _, body, _ = await bot.click("export.link", data, **in_channel(**MANAGER_2))
    assert "送れません" in str(body["value"])  # the clicker still gets their link here
    assert download_url({"attachments": [{"content": body["value"]}]})
    # Once they have written to Mamoru, the link also lands in their personal chat.
    await bot.say("ヘルプ", conversation_id="a:personal-manager-2", **MANAGER_2)
    bot.connector.clear()
    _, body, _ = await bot.click(
        "export.link", data, conversation_id="a:personal-manager-2", **MANAGER_2
    )
    assert (await download(bot, download_url({"attachments": [{"content": body["value"]}]})))[
        :2
    ] == b"PK"
