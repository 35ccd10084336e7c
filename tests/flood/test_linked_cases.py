"""One harasser, one picture: cases sharing a counterpart are linked (merging them:
tests/flood/test_org_cases_http.py).

Two departments (市民相談課: 田中, 高橋課長; 税務課: 鈴木, 井上課長). The thread card of a
case shows 「同じ相手: 他に…件（…部署）」 to everyone in the channel, and links only to the
cases the person asking may open.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.domain.incidents import Counterparts
from bot.domain.linking import counterpart_keys, normalise_account, normalise_email
from tests.support.connector import in_channel
from tests.teams.conftest import BotUnderTest, start_bot
from tests.teams.test_access_http import (
    DEPARTMENTS,
    KACHO,
    SUZUKI,
    TANAKA,
    ZEIMU_CHANNEL,
    ZEIMU_KACHO,
)

ABUSER = "Angry+city@Example.co.jp"
OTHER_TANAKA_COLLEAGUE = {"user_aad": "aad-yamada", "user_id": "29:yamada", "user_name": "山田"}


def test_counterpart_keys_normalise_and_skip_free_mail() -> None:
    assert normalise_email(ABUSER) == "angry@example.co.jp"
    assert normalise_account("https://twitter.com/Troll_1/status/123?s=20") == "x.com/troll_1"
    assert normalise_account("@Troll_1") == "@troll_1"
    org = counterpart_keys(Counterparts(emails=("a@corp.example",), domains=("corp.example",)))
    assert org == {"email:a@corp.example", "domain:corp.example"}
    free = counterpart_keys(Counterparts(emails=("someone@gmail.com",), domains=("gmail.com",)))
    assert free == {"email:someone@gmail.com"}  # thousands of strangers share gmail.com


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    departments = json.loads(json.dumps(DEPARTMENTS))
    departments["departments"][0]["staff"]["ids"].append("aad-yamada")
    settings = Settings(
        allow_anonymous=True,
        data_dir=tmp_path,
        departments=json.dumps(departments, ensure_ascii=False),
        legal_ids="aad-legal",
        graph_sandbox_embedded=False,
        _env_file=None,
    )
    async for running in start_bot(settings):
        yield running


async def report(bot: BotUnderTest, who: dict[str, str], counterpart: str, n: int) -> str:
    case_id = await bot.report(
        submission_id=f"sub-linked-{n:04d}",
        type="mass-email",
        what_happened="同じ人から毎日大量のメール",
        counterpart=counterpart,
        **who,
    )
    await bot.run_jobs()
    return case_id


def linked_block(card: dict[str, Any]) -> dict[str, Any] | None:
    for element in card["body"]:
        texts = [i.get("text", "") for i in element.get("items", [])]
        if any("同じ相手" in t for t in texts):
            return element
    return None


def open_buttons(block: dict[str, Any]) -> list[str]:
    sets = [i for i in block["items"] if i.get("type") == "ActionSet"]
    return [a["data"]["incident"] for s in sets for a in s["actions"] if a["verb"] == "case.show"]


async def refresh(bot: BotUnderTest, case_id: str, who: dict[str, str]) -> dict[str, Any]:
    _, body, _ = await bot.click("escalation.refresh", {"incident": case_id}, **who)
    card: dict[str, Any] = body["value"]
    return card


async def test_two_staff_reporting_the_same_address_see_their_cases_linked(
    bot: BotUnderTest,
) -> None:
    await bot.say("setup", **in_channel(**KACHO))
    await bot.say("setup", **in_channel(ZEIMU_CHANNEL, **ZEIMU_KACHO))
    first = await report(bot, TANAKA, ABUSER, 1)
    second = await report(bot, OTHER_TANAKA_COLLEAGUE, "angry@example.co.jp", 2)
    third = await report(bot, SUZUKI, "ANGRY@example.co.jp", 3)
    unrelated = await report(bot, TANAKA, "someone.else@gmail.com", 4)

    # The thread card of the second case, as posted in 市民相談課's channel.
    thread_cards = [c for c in bot.connector.cards() if second in json.dumps(c)]
    block = linked_block(thread_cards[-1]) if thread_cards else None
    if block is None:  # the thread card was posted before this test cleared: refresh it
        await bot.services.escalations.refresh_thread(second)
        block = linked_block([c for c in bot.connector.cards() if second in json.dumps(c)][-1])
    assert block is not None
    assert "同じ相手: 他に2件（2部署）" in json.dumps(block, ensure_ascii=False)
    assert open_buttons(block) == [first]  # the channel sees 市民相談課's cases only

    # 高橋課長 (市民相談課) opens 1 and 2, not 税務課's case; 井上課長 the other way round.
    kacho = linked_block(await refresh(bot, first, KACHO))
    assert kacho is not None and open_buttons(kacho) == [second]
    assert "1件は他部署" in json.dumps(kacho, ensure_ascii=False)
    zeimu = linked_block(await refresh(bot, third, ZEIMU_KACHO))
    assert zeimu is not None and open_buttons(zeimu) == []
    # Nothing links the unrelated gmail.com sender.
    assert linked_block(await refresh(bot, unrelated, KACHO)) is None
    # The link opens the case's detail for 高橋課長, and is "not found" for 井上課長.
    _, detail, _ = await bot.click("case.show", {"incident": second}, **KACHO)
    assert second in json.dumps(detail, ensure_ascii=False)
    _, refused, _ = await bot.click("case.show", {"incident": first}, **ZEIMU_KACHO)
    assert first not in json.dumps(refused, ensure_ascii=False)


async def test_managers_get_the_figures_card_staff_do_not(bot: BotUnderTest) -> None:
    await bot.say("setup", **in_channel(**KACHO))
    await report(bot, TANAKA, ABUSER, 1)
    await report(bot, SUZUKI, ABUSER, 2)
    [card] = await bot.say("集計", **KACHO)
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["報告された案件"] == "2件"
    assert facts["複数の案件に現れた相手"] == "1人（2件）"
    assert facts["あなたが開ける案件"] == "1件"  # 税務課's case is counted, not opened
    text = json.dumps(card, ensure_ascii=False)
    assert ABUSER.lower() not in text.lower() and "田中" not in text
    [refused] = await bot.say("集計", **TANAKA)
    assert "管理職と法務担当だけ" in refused["body"][0]["text"]
