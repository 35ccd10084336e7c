"""Hostile requests over HTTP: guessed case ids, other departments, non-managers, own cases.

The whole bot runs with two departments (市民相談課 and 税務課) and a legal section, on
SQLite and on PostgreSQL. Attackers are people of the same tenant: they can send any
``Action.Execute`` invoke with any data. Someone who may not see a case must get exactly
the answer an id that never existed gets (same status, same card), and nothing may change.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from tests.store.backends import postgres_url
from tests.support.connector import MANAGERS_CHANNEL, in_channel
from tests.teams.conftest import BACKENDS, BotUnderTest, start_bot_on

__all__ = ["postgres_url"]

ZEIMU_CHANNEL = "19:zeimu-managers@thread.tacv2"
TANAKA = {"user_aad": "aad-tanaka", "user_id": "29:tanaka", "user_name": "田中 花子"}
KACHO = {"user_aad": "aad-kacho", "user_id": "29:kacho", "user_name": "高橋 課長"}
KAKARICHO = {"user_aad": "aad-kakaricho", "user_id": "29:kakaricho", "user_name": "佐藤 係長"}
ZEIMU_KACHO = {"user_aad": "aad-zeimu", "user_id": "29:zeimu", "user_name": "井上 課長"}
SUZUKI = {"user_aad": "aad-suzuki", "user_id": "29:suzuki", "user_name": "鈴木 次郎"}
LEGAL = {"user_aad": "aad-legal", "user_id": "29:legal", "user_name": "法務 担当"}
DEPARTMENTS = {
    "departments": [
        {
            "id": "shimin",
            "name": "市民相談課",
            "managers": {"ids": ["aad-kacho", "aad-kakaricho"]},
            "staff": {"ids": ["aad-tanaka"]},
        },
        {
            "id": "zeimu",
            "name": "税務課",
            "managers": {"ids": ["aad-zeimu"]},
            "staff": {"ids": ["aad-suzuki"]},
        },
    ]
}
OUTSIDERS = {"manager of another department": ZEIMU_KACHO, "unrelated staff": SUZUKI}
OUTSIDERS["another tenant member"] = {"user_aad": "aad-x", "user_id": "29:x", "user_name": "X"}


def verbs(case_id: str) -> dict[str, dict[str, Any]]:
    """Every verb that names a case, with data that would pass its own validation."""
    return {
        "escalation.refresh": {"incident": case_id},
        "escalation.approve": {"incident": case_id, "act.mail-protection": "true"},
        "escalation.reject": {"incident": case_id, "comment": "x"},
        "escalation.export": {"incident": case_id},
        "escalation.job.resume": {"incident": case_id, "job": "1"},
        "sns.task.done": {"incident": case_id, "task": "off-counter"},
        "task.done": {"incident": case_id, "task": "off-counter"},
        "task.assign": {"incident": case_id, "task": "off-counter", "owner": "aad-zeimu"},
        "case.show": {"incident": case_id},
        "cases.merge": {"incident": case_id},
        "org.merge.confirm": {"incident": case_id, "members": case_id},
        "org.show": {"org": f"ORG-{case_id}"},
        "org.remove": {"org": f"ORG-{case_id}", "case": case_id},
        "org.export": {"org": f"ORG-{case_id}"},
        "org.merge.orgs": {"org": f"ORG-{case_id}", "other": "ORG-KH-2026-0001"},
        "org.merge.orgs.confirm": {
            "org": f"ORG-{case_id}",
            "other": "ORG-KH-2026-0001",
            "members": case_id,
        },
        "export.link": {"incident": case_id, "export": "0" * 32},
        "sns.protect.show": {"case": case_id},
        "sns.platforms.show": {"case": case_id},
        "sns.platform.reported": {
            "case": case_id,
            "platform": "x",
            "status": "reported",
            "answer": "削除されました",
        },
        "sns.monitor.answer": {"case": case_id, "prompt": 1, "reposts": "3"},
        "sns.capture.submit": {"case": case_id, "account": "@troll", "text": "..."},
    }


@pytest.fixture(params=BACKENDS)
async def bot(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    """The bot with two departments and a legal section, on SQLite or PostgreSQL."""

    def settings(database_url: str) -> Settings:
        return Settings(
            allow_anonymous=True,
            data_dir=tmp_path,
            database_url=database_url,
            departments=json.dumps(DEPARTMENTS, ensure_ascii=False),
            legal_ids="aad-legal",
            graph_sandbox_embedded=False,
            _env_file=None,
        )

    async for running in start_bot_on(request, settings):
        yield running


async def setup_channels(bot: BotUnderTest) -> None:
    cards = await bot.say("setup", **in_channel(**KACHO))
    assert "「市民相談課」" in str(cards[0])
    cards = await bot.say("setup", **in_channel(ZEIMU_CHANNEL, **ZEIMU_KACHO))
    assert "「税務課」" in str(cards[0])
    for person in (KACHO, KAKARICHO, ZEIMU_KACHO, LEGAL):
        await bot.say("こんにちは", **person)  # known by their Teams id from now on


async def report(bot: BotUnderTest, who: dict[str, str], kind: str, n: int) -> str:
    case_id = await bot.report(
        submission_id=f"sub-access-{n:04d}",
        type=kind,
        what_happened="090-1234-5678 の男性から毎日電話とメール",
        counterpart="angry@example.com",
        **who,
    )
    await bot.run_jobs()
    return case_id


async def state(bot: BotUnderTest, case_id: str) -> tuple[str, int, int, int]:
    """What an attacker might change: state, timeline, jobs, evidence entries."""
    persistence = bot.services.persistence
    incident = await persistence.store.load_incident(case_id)
    jobs = await persistence.jobs.jobs_for_incident(case_id)
    entries = [e async for e in persistence.store.iter_evidence(case_id)]
    return incident.state.value, len(incident.timeline), len(jobs), len(entries)


async def test_outsiders_get_the_unknown_case_answer_and_change_nothing(
    bot: BotUnderTest,
) -> None:
    await setup_channels(bot)
    cases = [
        await report(bot, TANAKA, "mass-email", 1),
        await report(bot, TANAKA, "sns-defamation", 2),
        await report(bot, KACHO, "personal-fixation", 3),
    ]
    prefix = cases[0].rsplit("-", 1)[0]
    never = f"{prefix}-0999"  # sequential ids: the attacker guesses every number
    before = {c: await state(bot, c) for c in cases}
    for who, person in OUTSIDERS.items():
        for verb in verbs(never):
            status, unknown, sent = await bot.click(verb, verbs(never)[verb], **person)
            assert status == 200 and "見つからない" in str(unknown), (who, verb)
            assert not sent
            for case_id in cases:
                status, body, sent = await bot.click(verb, verbs(case_id)[verb], **person)
                assert (status, body) == (200, unknown), (who, verb, case_id)
                assert not sent, (who, verb, case_id)
    assert {c: await state(bot, c) for c in cases} == before
    assert not bot.connector.sent  # no thread update, no notice to anyone


async def test_each_role_gets_what_the_rule_gives(bot: BotUnderTest) -> None:
    await setup_channels(bot)
    case_id = await report(bot, TANAKA, "mass-email", 1)
    approve = verbs(case_id)["escalation.approve"]

    _, body, _ = await bot.click("escalation.refresh", {"incident": case_id}, **KACHO)
    assert [a["verb"] for a in body["value"]["actions"]] == [
        "escalation.approve",
        "escalation.reject",
        "escalation.export",
    ]
    # The reporter sees the case and its state, and may not decide or export it.
    _, body, _ = await bot.click("escalation.refresh", {"incident": case_id}, **TANAKA)
    assert case_id in str(body) and "actions" not in body["value"]
    _, body, _ = await bot.click("escalation.approve", approve, **TANAKA)
    assert "判断できるのは部署の上司だけです" in str(body)
    _, body, _ = await bot.click("escalation.export", {"incident": case_id}, **TANAKA)
    assert "判断できるのは部署の上司だけです" in str(body)
    # The legal section sees every case and exports it, but decides nothing.
    _, body, _ = await bot.click("escalation.refresh", {"incident": case_id}, **LEGAL)
    assert [a["verb"] for a in body["value"]["actions"]] == ["escalation.export"]
    _, body, _ = await bot.click("escalation.approve", approve, **LEGAL)
    assert "判断できるのは部署の上司だけです" in str(body)
    assert (await state(bot, case_id))[0] == "escalated"
    _, body, _ = await bot.click("escalation.export", {"incident": case_id}, **LEGAL)
    assert "判断できるのは部署の上司だけです" not in str(body)
    jobs = await bot.services.persistence.jobs.jobs_for_incident(case_id)
    assert [j.kind for j in jobs].count("export") == 1
    # The department's manager decides.
    _, body, _ = await bot.click("escalation.approve", approve, **KACHO)
    assert (await state(bot, case_id))[0] == "actions_approved"


async def test_nobody_approves_their_own_case(bot: BotUnderTest) -> None:
    await setup_channels(bot)
    own = await report(bot, KACHO, "mass-email", 1)
    approve = verbs(own)["escalation.approve"]
    _, body, _ = await bot.click("escalation.refresh", {"incident": own}, **KACHO)
    assert "別の上司が判断します" in str(body) and "actions" not in body["value"]
    _, body, _ = await bot.click("escalation.approve", approve, **KACHO)
    assert "別の上司が判断します" in str(body)
    _, body, _ = await bot.click("escalation.export", {"incident": own}, **KACHO)
    assert "export" not in [
        j.kind for j in await bot.services.persistence.jobs.jobs_for_incident(own)
    ]
    assert (await state(bot, own))[0] == "escalated"
    # Another manager of the same department decides it; the other department cannot.
    _, body, _ = await bot.click("escalation.approve", approve, **ZEIMU_KACHO)
    assert "見つからない" in str(body)
    _, body, _ = await bot.click("escalation.approve", approve, **KAKARICHO)
    assert (await state(bot, own))[0] == "actions_approved"


async def test_a_case_goes_to_its_departments_channel_and_managers(bot: BotUnderTest) -> None:
    await setup_channels(bot)
    bot.connector.clear()
    await report(bot, SUZUKI, "mass-email", 1)
    await report(bot, TANAKA, "mass-email", 2)
    channels = [t["params"]["channelData"]["channel"]["id"] for t in bot.connector.threads]
    assert channels == [ZEIMU_CHANNEL, MANAGERS_CHANNEL]
    refresh = [
        t["params"]["activity"]["attachments"][0]["content"]["refresh"]["userIds"]
        for t in bot.connector.threads
    ]
    assert refresh == [["29:zeimu"], ["29:kacho", "29:kakaricho"]]


async def test_setup_registers_only_the_senders_departments(bot: BotUnderTest) -> None:
    cards = await bot.say("setup", **in_channel(**TANAKA))
    assert "上司として登録された人だけ" in str(cards[0])
    cards = await bot.say("setup", **in_channel(**LEGAL))  # sees all, manages none
    assert "上司として登録された人だけ" in str(cards[0])
    cards = await bot.say("setup", **in_channel(**KACHO))
    assert "「市民相談課」" in str(cards[0]) and "税務課" not in str(cards[0])


async def test_crafted_report_text_reaches_the_managers_inert(bot: BotUnderTest) -> None:
    await setup_channels(bot)
    bot.connector.clear()
    await bot.report(
        submission_id="sub-access-phish",
        type="mass-email",
        what_happened="[再認証](https://evil.example/login) **至急** ここから再ログインを",
        counterpart="x_y@evil.example",
        **TANAKA,
    )
    await bot.run_jobs()
    card = bot.connector.threads[0]["params"]["activity"]["attachments"][0]["content"]
    shown = json.dumps(card, ensure_ascii=False)
    assert "[再認証](" not in shown and "https://evil.example" not in shown
    assert "\\\\[再認証\\\\]\\\\(https：//evil.example/login\\\\)" in shown
    assert "\\\\*\\\\*至急\\\\*\\\\*" in shown
