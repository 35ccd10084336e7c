"""In Teams an evidence bundle reaches only its requester: file consent, then their OneDrive.

The whole bot over HTTP, with the stand-in connector as the Teams client and a stand-in
OneDrive upload session (as strict as Microsoft documents it) as the place Teams names
when the requester accepts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.logs import QUIET_LIBRARIES
from tests.support.connector import MANAGERS_CHANNEL, file_consent_invoke, in_channel
from tests.support.onedrive import StandInOneDrive
from tests.teams.conftest import (
    MANAGER_1,
    MANAGER_2,
    OUTSIDER,
    BotUnderTest,
    start_bot,
    two_managers,
)
from tests.teams.test_export_links import PERSONAL_M1, Clock, escalated, sent_to

CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(
    tmp_path: Path, clock: Clock, onedrive: StandInOneDrive
) -> AsyncIterator[BotUnderTest]:
    settings = two_managers(
        tmp_path, export_delivery="teams-file", upload_origins=onedrive.base_url
    )
    async for running in start_bot(settings, clock=clock):
        yield running


async def exported(bot: BotUnderTest) -> tuple[str, dict[str, Any]]:
    """A case exported by manager 1: its id and the consent card in their personal chat."""
    incident_id = await escalated(bot)
    await bot.say("hi", **PERSONAL_M1)
    _, body, _ = await bot.click(
        "escalation.export", {"incident": incident_id}, **in_channel(**MANAGER_1)
    )
    assert "OneDrive に保存されます" in str(body["value"])
    bot.connector.clear()
    await bot.run_jobs()
    return incident_id, consent_card(bot)


def consent_card(bot: BotUnderTest) -> dict[str, Any]:
    (message,) = [m for m in sent_to(bot, "a:personal-manager-1") if _attachments(m, CONSENT)]
    (attachment,) = _attachments(message, CONSENT)
    return attachment


def _attachments(activity: dict[str, Any], content_type: str) -> list[dict[str, Any]]:
    return [a for a in activity.get("attachments") or [] if a.get("contentType") == content_type]


async def answer(
    bot: BotUnderTest,
    action: str,
    context: dict[str, Any],
    upload_info: dict[str, str] | None = None,
    **who: Any,
) -> list[dict[str, Any]]:
    """Answer a consent card as ``who`` (default: manager 1 in their chat); what came back."""
    who = who or PERSONAL_M1
    bot.connector.clear()
    activity = file_consent_invoke(bot.connector_url, action, context, upload_info, **who)
    async with bot.http.post(f"{bot.url}/api/messages", json=activity) as response:
        assert response.status == 200  # answered at once, whatever the upload does
    exports = bot.services.exports
    assert exports is not None and exports.file_consent is not None
    await exports.file_consent.drain()
    await bot.services.escalations.drain()
    return [s.activity for s in bot.connector.sent]


async def test_the_requester_accepts_and_the_bundle_lands_in_their_onedrive(
    bot: BotUnderTest, onedrive: StandInOneDrive, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    incident_id, card = await exported(bot)
    assert card["name"] == f"{incident_id}-evidence.zip"
    context = card["content"]["acceptContext"]
    (thread,) = sent_to(bot, MANAGERS_CHANNEL)
    assert "ファイルは 山田 課長 さんの個人チャットに届きます" in str(thread)
    assert context["offer"] not in str(thread)
    # No download link exists where bundles go out as Teams files.
    async with bot.http.post(f"{bot.url}/exports/anything", data={"k": "x"}) as response:
        assert response.status == 404

    session = onedrive.new_session(card["name"])
    replies = await answer(bot, "accept", context, session)
    data = onedrive.files[card["name"]]
    assert data[:2] == b"PK" and len(data) == card["content"]["sizeInBytes"]
    assert not any(put["authorization"] for put in onedrive.puts)
    (done,) = replies
    (info,) = _attachments(done, FILE_INFO)
    assert info["contentUrl"] == session["contentUrl"]
    assert info["content"] == {"uniqueId": session["uniqueId"], "fileType": "zip"}
    assert hashlib.sha256(data).hexdigest() in done["text"]
    # The upload URL is a credential to that OneDrive session: it is in no log line, nor
    # is the offer id (libraries Mamoru pins to WARNING, e.g. the SQL drivers, aside).
    secrets = (session["uploadUrl"].rsplit("/", 1)[1], context["offer"])
    written = [r for r in caplog.records if not r.name.startswith(QUIET_LIBRARIES)]
    assert not [r for r in written if any(s in r.getMessage() for s in secrets)]
    assert any("uploaded to its requester's OneDrive" in r.getMessage() for r in caplog.records)

    # Once: a replayed accept (Teams would name a new session) uploads nothing.
    puts = len(onedrive.puts)
    replies = await answer(bot, "accept", context, onedrive.new_session(card["name"]))
    assert "もう使われました" in str(replies) and len(onedrive.puts) == puts


async def test_nobody_else_and_no_other_host_gets_the_bytes(
    bot: BotUnderTest, onedrive: StandInOneDrive
) -> None:
    _, card = await exported(bot)
    context = card["content"]["acceptContext"]
    # Another manager who sees the case, and someone who does not, naming the offer.
    for who in (
        {"conversation_id": "a:personal-manager-2", **MANAGER_2},
        {"conversation_id": "a:personal-other", **OUTSIDER},
    ):
        replies = await answer(bot, "accept", context, onedrive.new_session(card["name"]), **who)
        assert "見つからないか" in str(replies)
    # The requester, but the accept names a host that is not OneDrive.
    forged = {**onedrive.new_session(card["name"]), "uploadUrl": "https://evil.example/up/1"}
    replies = await answer(bot, "accept", context, forged)
    assert "見つからないか" in str(replies)
    # The requester, from the managers' channel (Teams sends file consent only in a chat).
    replies = await answer(
        bot, "accept", context, onedrive.new_session(card["name"]), **in_channel(**MANAGER_1)
    )
    assert "見つからないか" in str(replies)
    assert onedrive.puts == []
    # None of these used the offer up: the requester's own accept still works.
    await answer(bot, "accept", context, onedrive.new_session(card["name"]))
    assert card["name"] in onedrive.files


async def test_decline_expiry_and_failure_keep_the_bundle_and_offer_it_again(
    bot: BotUnderTest, onedrive: StandInOneDrive, clock: Clock
) -> None:
    incident_id, card = await exported(bot)
    replies = await answer(bot, "decline", card["content"]["declineContext"])
    assert "受け取らないことにしました" in str(replies) and "もう一度送る" in str(replies)
    replies = await answer(
        bot, "accept", card["content"]["acceptContext"], onedrive.new_session(card["name"])
    )
    assert "もう使われました" in str(replies) and onedrive.puts == []

    # "Send it again" (here from the thread's notice) brings a new consent card.
    (button,) = [
        a for a in replies[0]["attachments"][0]["content"]["actions"] if a["verb"] == "export.link"
    ]
    _, body, _ = await bot.click("export.link", button["data"], **in_channel(**MANAGER_1))
    assert "個人チャットに送りました" in str(body["value"])
    fresh = consent_card(bot)
    assert fresh["content"]["acceptContext"] != card["content"]["acceptContext"]

    # Past its 30 minutes the offer is refused, and says how to get a new one.
    clock.at += dt.timedelta(minutes=31)
    replies = await answer(
        bot, "accept", fresh["content"]["acceptContext"], onedrive.new_session(card["name"])
    )
    assert "期限切れ" in str(replies) and "もう一度送る" in str(replies)
    assert onedrive.puts == []

    # The upload session is gone mid-way: the requester is told, the bundle stays.
    _, body, _ = await bot.click("export.link", button["data"], **PERSONAL_M1)
    third = consent_card(bot)
    session = onedrive.new_session(card["name"])
    onedrive.fail_next = [404]
    replies = await answer(bot, "accept", third["content"]["acceptContext"], session)
    assert "保存できませんでした" in str(replies) and "もう一度送る" in str(replies)
    assert card["name"] not in onedrive.files
    # Another manager pressing "send again" gets nothing of it.
    _, body, _ = await bot.click("export.link", button["data"], **in_channel(**MANAGER_2))
    assert "別の人の依頼" in str(body["value"])
    assert incident_id
