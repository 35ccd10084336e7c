"""Escalation over HTTP: setup in the managers' channel, the thread, decisions, who may decide."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.domain.jobs import JobState
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

CHANNEL = MANAGERS_CHANNEL


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    async for running in start_bot(two_managers(tmp_path)):
        yield running


async def setup_channel(bot: BotUnderTest) -> list[dict[str, Any]]:
    return await bot.say("<at>Mamoru</at> setup", **in_channel(**MANAGER_1))


async def report(bot: BotUnderTest, submission: str = "sub-escalate-0001") -> str:
    return await bot.report(
        submission_id=submission,
        type="mass-email",
        what_happened="同じ人から毎日100通のメール",
        counterpart="angry@example.com",
        **STAFF,
    )


def texts(card: dict[str, Any]) -> str:
    return str(card)


async def test_setup_only_by_managers_in_a_channel(bot: BotUnderTest) -> None:
    cards = await bot.say("setup", **in_channel(**OUTSIDER))
    assert "上司として登録された人だけ" in texts(cards[0])
    cards = await bot.say("setup", **MANAGER_1)  # personal chat
    assert "チャンネルで実行" in texts(cards[0])
    cards = await setup_channel(bot)
    assert "登録しました" in texts(cards[0])


async def test_report_opens_a_thread_and_tells_the_staff(bot: BotUnderTest) -> None:
    await setup_channel(bot)
    await bot.say("hi", **MANAGER_1)  # managers are known by their Teams id once seen
    incident_id = await report(bot)
    bot.connector.clear()
    assert await bot.run_jobs() == 1
    thread = bot.connector.threads[0]
    assert thread["params"]["channelData"]["channel"]["id"] == CHANNEL
    card = thread["params"]["activity"]["attachments"][0]["content"]
    assert incident_id in texts(card)
    assert card["refresh"]["userIds"] == ["29:manager-1"]
    assert "approve" not in texts(card)  # the shared view has no buttons
    staff_notices = [s for s in bot.connector.sent if s.conversation_id == "a:personal-staff-1"]
    assert "上司のチャンネルに案件を送りました" in texts(staff_notices[-1].activity)


async def test_a_case_reported_before_setup_reaches_the_channel_after_setup(
    tmp_path: Path,
) -> None:
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        manager_ids="aad-manager-1",
        admin_contact="情報政策課（内線 1234）",
        graph_sandbox_embedded=False,
        _env_file=None,
    )
    async for bot in start_bot(settings):
        incident_id = await report(bot)
        bot.connector.clear()
        await bot.run_jobs()
        assert not bot.connector.threads
        told = texts(bot.connector.sent[-1].activity)
        assert bot.connector.sent[-1].conversation_id == "a:personal-staff-1"
        assert "まだ Mamoru を設定していない" in told and "情報政策課（内線 1234）" in told
        assert "110" in told  # someone who may be in danger hears what to do now

        cards = await setup_channel(bot)
        assert "1 件" in texts(cards[0])  # the setup says a waiting case is on its way
        bot.connector.clear()
        await bot.run_jobs()
        (thread,) = bot.connector.threads
        assert incident_id in texts(thread["params"]["activity"])
        staff = [s for s in bot.connector.sent if s.conversation_id == "a:personal-staff-1"]
        assert "上司のチャンネルに案件を送りました" in texts(staff[-1].activity)

        await setup_channel(bot)  # again: nothing is sent twice
        bot.connector.clear()
        await bot.run_jobs()
        assert len(bot.connector.threads) == 1


async def test_refresh_gives_managers_the_decide_view_and_the_reporter_the_state(
    bot: BotUnderTest,
) -> None:
    await setup_channel(bot)
    incident_id = await report(bot)
    await bot.run_jobs()
    _, body, _ = await bot.click(
        "escalation.refresh", {"incident": incident_id}, **in_channel(**MANAGER_1)
    )
    manager_view = body["value"]
    assert [a["verb"] for a in manager_view["actions"]] == [
        "escalation.approve",
        "escalation.reject",
        "escalation.export",
    ]
    draft = next(e for e in manager_view["body"] if e.get("id") == "draft.cutoff-declaration")
    assert "これ以上の説明はございません。\n" in draft["value"]
    _, body, _ = await bot.click("escalation.refresh", {"incident": incident_id}, **STAFF)
    assert "actions" not in body["value"]  # the reporter sees the state, without buttons
    assert incident_id in texts(body["value"])
    _, body, _ = await bot.click(
        "escalation.refresh", {"incident": incident_id}, **in_channel(**OUTSIDER)
    )
    assert incident_id not in texts(body["value"])  # anyone else: "not found"
    assert "見つからない" in texts(body["value"])


async def test_outsider_and_self_approval_are_refused(tmp_path: Path) -> None:
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        manager_ids="aad-manager-1,aad-staff-1",  # the reporter is a manager too
        graph_sandbox_embedded=False,
        _env_file=None,
    )
    async for bot in start_bot(settings):
        await setup_channel(bot)
        incident_id = await report(bot)
        await bot.run_jobs()
        data = {"incident": incident_id, "act.mail-protection": "true"}
        _, body, _ = await bot.click("escalation.approve", data, **in_channel(**OUTSIDER))
        assert "見つからない" in texts(body["value"])  # not even told the case exists
        _, body, _ = await bot.click("escalation.approve", data, **in_channel(**STAFF))
        assert "別の上司が判断します" in texts(body["value"])
        incident = await bot.services.persistence.store.load_incident(incident_id)
        assert incident.state.value == "escalated"


async def test_approval_records_decision_updates_thread_and_queues_jobs_once(
    bot: BotUnderTest,
) -> None:
    await setup_channel(bot)
    incident_id = await report(bot)
    await bot.run_jobs()
    data = {
        "incident": incident_id,
        "act.mail-protection": "true",
        "act.cutoff-declaration": "true",
        "draft.cutoff-declaration": "本件への回答は以上です。",
        "act.it-domain-filter": "false",
        "act.police-consultation": "false",
        "comment": "至急対応",
    }
    bot.connector.clear()
    clicks = [
        bot.click("escalation.approve", data, **in_channel(**MANAGER_1)),
        bot.click("escalation.approve", data, **in_channel(**MANAGER_2)),
        bot.click("escalation.approve", data, **in_channel(**MANAGER_1)),
    ]
    results = await asyncio.gather(*clicks)
    assert all(status == 200 for status, _, _ in results)
    refused = [r for r in results if "すでに判断済み" in texts(r[1]["value"])]
    assert len(refused) == 2
    jobs = await bot.services.persistence.jobs.jobs_for_incident(incident_id)
    kinds = sorted(j.params.get("action", "") for j in jobs if j.kind != "escalate")
    # Approving a mail sends nothing: it waits for its preview and confirmation.
    assert kinds == ["mail-protection"]
    assert all(j.state is JobState.QUEUED for j in jobs if j.kind != "escalate")
    mails = bot.services.escalations.mails
    assert mails is not None
    (draft,) = await mails.drafts(incident_id)
    assert draft.mail.body == "本件への回答は以上です。"
    assert draft.state.value == "awaiting_confirmation"
    updates = [s for s in bot.connector.sent if s.method == "PUT"]
    assert updates and "承認" in texts(updates[-1].activity)
    incident = await bot.services.persistence.store.load_incident(incident_id)
    assert incident.state.value == "actions_approved"
    assert "至急対応" in incident.timeline[-1].note


async def test_rejection_tells_the_staff(bot: BotUnderTest) -> None:
    await setup_channel(bot)
    incident_id = await report(bot)
    await bot.run_jobs()
    bot.connector.clear()
    _, body, _ = await bot.click(
        "escalation.reject", {"incident": incident_id}, **in_channel(**MANAGER_1)
    )
    assert "却下する理由をコメントに書いてください" in texts(body["value"])
    _, body, _ = await bot.click(
        "escalation.reject",
        {"incident": incident_id, "comment": "業務上の正当な問い合わせのため"},
        **in_channel(**MANAGER_1),
    )
    assert "却下" in texts(body["value"])
    assert "業務上の正当な問い合わせのため" in texts(body["value"])
    staff = [s for s in bot.connector.sent if s.conversation_id == "a:personal-staff-1"]
    notice = texts(staff[-1].activity)
    assert "今回は追加の対応をしない" in notice and "業務上の正当な問い合わせのため" in notice


async def test_forged_and_stale_clicks(bot: BotUnderTest) -> None:
    status, body, _ = await bot.click(
        "escalation.approve", {"incident": "../../x"}, **in_channel(**MANAGER_1)
    )
    assert status == 200 and body["statusCode"] == 400
    status, body, _ = await bot.click(
        "escalation.approve", {"incident": "KH-2026-9999"}, **in_channel(**MANAGER_1)
    )
    assert status == 200
    assert "見つからないか" in texts(body["value"])


class MovableClock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        import datetime as dt

        self.now_value = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)

    def now(self) -> Any:
        return self.now_value


async def test_reminders_for_undecided_cases_and_follow_ups(tmp_path: Path) -> None:
    import datetime as dt

    clock = MovableClock()
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        manager_ids="aad-manager-1",
        escalation_reminder_hours=24,
        graph_sandbox_embedded=False,
        _env_file=None,
    )
    async for bot in start_bot(settings, clock=clock):
        reminders = bot.services.reminders
        await setup_channel(bot)
        # The manager's personal chat is known once they have written to Mamoru.
        await bot.say("hi", conversation_id="a:personal-manager-1", **MANAGER_1)
        incident_id = await report(bot)
        await bot.run_jobs()
        bot.connector.clear()
        assert await reminders.tick() == 0  # nothing due yet
        clock.now_value += dt.timedelta(hours=25)
        assert await reminders.tick() == 1
        assert await reminders.tick() == 0  # once per period
        reminder = bot.connector.sent[-1]
        assert reminder.conversation_id.startswith(CHANNEL)
        assert f"{incident_id} は 24 時間以上、判断待ちです" in texts(reminder.activity)

        await bot.click(
            "escalation.approve",
            {"incident": incident_id, "act.police-consultation": "true"},
            **in_channel(**MANAGER_1),
        )
        bot.connector.clear()
        clock.now_value += dt.timedelta(days=3, minutes=1)
        assert await reminders.tick() == 1  # mass-email's 3-day follow-up
        prompt = bot.connector.sent[-1]
        assert prompt.conversation_id == "a:personal-manager-1"
        assert "証拠フォルダに新しいメール" in texts(prompt.activity)
        bot.connector.clear()
        clock.now_value += dt.timedelta(days=30)
        # The 14-day follow-up (the 3-day one is not repeated), and the police consultation
        # task (due 3 days after approval) is overdue: its owner hears it once.
        assert await reminders.tick() == 2
        told = [texts(s.activity) for s in bot.connector.sent]
        assert any("警察" in m and "期限" in m and incident_id in m for m in told)
        assert all(s.conversation_id == "a:personal-manager-1" for s in bot.connector.sent)
        assert await reminders.tick() == 0


async def test_without_a_configured_contact_staff_are_told_to_ask_it(bot: BotUnderTest) -> None:
    await report(bot)
    bot.connector.clear()
    await bot.run_jobs()
    told = texts(bot.connector.sent[-1].activity)
    assert "情報システム担当（Teams 管理者）" in told or "your IT or Teams administrator" in told
