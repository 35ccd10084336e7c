"""Spread-monitoring prompts on schedule (injected clock), answered as evidence, over HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import SNS
from bot.config import Settings
from bot.domain.evidence import NoteItem, decode
from bot.domain.sns_monitor import parse_spread
from cards.elements import plain
from tests.sns.conftest import STAFF, report_sns_case, texts
from tests.teams.conftest import BotUnderTest, start_bot

START = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


class MovableClock:
    """A clock the test moves."""

    def __init__(self, now: dt.datetime) -> None:
        self.at = now

    def now(self) -> dt.datetime:
        return self.at


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@pytest.fixture
async def bot(tmp_path: Path, clock: MovableClock) -> AsyncIterator[BotUnderTest]:
    settings = Settings(
        allow_anonymous=True, data_dir=tmp_path, graph_sandbox_embedded=False, _env_file=None
    )
    async for running in start_bot(settings, clock=clock):
        yield running


async def tick(bot: BotUnderTest) -> list[dict]:
    bot.connector.clear()
    await bot.app[SNS].monitor.tick()
    return [c for s in bot.connector.sent for c in s.cards if s.conversation_id.startswith("a:")]


async def test_prompts_daily_then_weekly_and_answers_are_evidence(
    bot: BotUnderTest, clock: MovableClock
) -> None:
    await bot.say("こんにちは", **STAFF)  # Mamoru can now reach the staff member
    case_id = await report_sns_case(bot, "Xで名指し")
    assert await tick(bot) == []  # nothing due yet
    clock.at = START + dt.timedelta(days=1, minutes=1)
    (prompt,) = await tick(bot)
    assert f"{case_id} 拡散状況の確認（第1回）" in texts(prompt)
    assert await tick(bot) == []  # sent once, however often the loop runs

    answer = prompt["actions"][0]
    data = {
        **answer["data"],
        "reposts": "120",
        "quotes": "4",
        "copies": "2",
        "copy_urls": "https://matome.example.jp/1\njavascript:alert(1)",
    }
    _, body, _ = await bot.click(answer["verb"], data, **STAFF)
    shown = texts(body["value"])
    assert f"{case_id} の証拠記録 #2 に拡散状況を残しました" in shown
    assert "javascript" in shown and plain("https://matome.example.jp/1") in shown
    store = bot.services.persistence.store
    last = [decode(e) async for e in store.iter_evidence(case_id)][-1]
    assert isinstance(last.item, NoteItem)
    observation = parse_spread(last.item.text)
    assert observation is not None and observation.reposts == 120
    assert observation.copy_urls == ("https://matome.example.jp/1",)

    _, body, _ = await bot.click(answer["verb"], {**answer["data"], "reposts": "-5"}, **STAFF)
    assert "0以上の整数" in texts(body["value"])

    # A long gap sends the latest prompt only, not a backlog; then weekly.
    clock.at = START + dt.timedelta(days=6, minutes=1)
    (prompt,) = await tick(bot)
    assert "第6回" in texts(prompt)
    clock.at = START + dt.timedelta(days=8)
    (prompt,) = await tick(bot)
    assert "第7回" in texts(prompt)  # the last daily one, a day late
    clock.at = START + dt.timedelta(days=13)
    assert await tick(bot) == []  # daily week over; first weekly prompt on day 14
    clock.at = START + dt.timedelta(days=14, minutes=1)
    (prompt,) = await tick(bot)
    assert "第8回" in texts(prompt)


async def test_legal_clock_warns_once_before_the_window_closes(
    bot: BotUnderTest, clock: MovableClock
) -> None:
    await bot.say("こんにちは", **STAFF)
    case_id = await report_sns_case(bot, "Xで名指し")
    await bot.say("https://x.com/a/status/5", **STAFF)
    posted = (START - dt.timedelta(days=50)).date().isoformat()
    await bot.click(
        "sns.capture.submit",
        {"case": case_id, "account": "@a", "posted_date": posted, "posted_time": "09:00"},
        **STAFF,
    )

    def warnings(cards: list[dict]) -> list[str]:
        return [texts(c) for c in cards if "⚖️" in texts(c)]

    clock.at = START + dt.timedelta(days=5)
    assert warnings(await tick(bot)) == []  # 55 days: nothing yet
    clock.at = START + dt.timedelta(days=11)
    (warning,) = warnings(await tick(bot))
    assert "61日" in warning and f"{case_id} の記録 #2" in warning and "残り約29日" in warning
    assert warnings(await tick(bot)) == []  # once
    clock.at = START + dt.timedelta(days=41)
    (closed,) = warnings(await tick(bot))
    assert "過ぎた可能性があります" in closed
