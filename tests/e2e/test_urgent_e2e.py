"""Issue 10's "done when" in the Agents Playground: a threatened member of staff gets the
safety card, presses 「上司にすぐ知らせる」, and the managers' channel gets an URGENT
thread that names her, says where she is and @mentions the manager.

The same office as tests/e2e/test_approval_e2e.py (its fixtures are reused): 田中 花子
(staff) and 高橋 課長 (manager), each in their own Playground and Chromium page. The
staff member's page is 446 px wide, a phone held upright: the cards must stay readable
there (no label squeezed to one character per line). Screenshots go to docs/images/
for the staff guide (docs/guide-staff.ja.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page

from bot.domain.locale import Locale
from cards.i18n import t
from tests.e2e.playground import (
    card_actions,
    click_card_action,
    open_channel,
    post_in_channel,
    send_message,
    wait_for_bot_text,
    wait_for_card_text,
    wait_for_channel_card,
)
from tests.e2e.processes import REPO
from tests.e2e.test_approval_e2e import (  # the office, its Playgrounds and pages
    CHANNEL,
    TEAM,
    _wait_for_channel_any,
    office,
    pages,
    playgrounds,
)

pytestmark = pytest.mark.e2e

__all__ = ["office", "pages", "playgrounds"]  # fixtures, imported for pytest

IMAGES = REPO / "docs" / "images"
PHONE = {"width": 446, "height": 900}
ALERT = "上司にすぐ知らせる"  # cards/i18n/ja.py, urgent.alert
SAFETY_TITLE = "身の危険を感じたとき（緊急）"  # bot/playbooks/urgent-safety.yaml
SENT = "上司に知らせました"  # urgent.sent_title
URGENT_THREAD = "緊急: 職員が身の危険を感じています"  # urgent.thread_title
ASK_BACK = "どれに近いですか？"  # menu.ask_title
MAX_BUTTON_HEIGHT = 64  # px: two lines of label at most; one character per line is taller


def _shot(locator: Locator, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(IMAGES / name))


def _assert_phone_sized(card: Locator) -> None:
    """No visible button's label is squeezed into a column at 446 px (one character a line)."""
    buttons = card.locator("button[title]")
    for i in range(buttons.count()):
        button = buttons.nth(i)
        if not button.is_visible():
            continue
        box = button.bounding_box()
        assert box is not None
        title = button.get_attribute("title")
        assert box["height"] <= MAX_BUTTON_HEIGHT, (
            f"{title!r}: {box['width']:.0f}x{box['height']:.0f}"
        )
        assert box["width"] >= box["height"], f"{title!r}: {box['width']:.0f}x{box['height']:.0f}"


def test_a_threat_gets_the_safety_card_and_the_alert_reaches_the_managers(
    pages: dict[str, Page],
) -> None:
    staff, manager = pages["staff"], pages["manager"]
    staff.set_viewport_size(PHONE)

    # Manager: has talked to Mamoru (so it can write to him) and set up the channel.
    send_message(manager, "こんにちは")
    open_channel(manager, TEAM, CHANNEL)
    post_in_channel(manager, "setup")
    _wait_for_channel_any(
        manager, [t("esc.setup.done", loc, department="default") for loc in Locale]
    )

    # Staff: 「殺すぞと言われました」 → the safety card, on a phone-sized screen.
    before = send_message(staff, "殺すぞと言われました")
    card = wait_for_card_text(staff, ALERT, after=before)
    text = card.inner_text()
    assert SAFETY_TITLE in text
    assert "110" in text and "離れ" in text
    assert "お答えできません" not in text
    assert ALERT in card_actions(card)
    _assert_phone_sized(card)
    _shot(card, "urgent-card-446.png")

    # She says where she is and presses the button.
    card.locator("input").first.fill("1階窓口の奥")
    click_card_action(staff, ALERT, card=card)
    sent = wait_for_card_text(staff, SENT, after=before)
    assert "KH-" in sent.inner_text()
    _shot(sent, "urgent-sent-446.png")

    # Manager: the URGENT thread names her, says where she is and mentions him.
    thread = wait_for_channel_card(manager, URGENT_THREAD, timeout=60)
    shown = thread.inner_text()
    assert "田中 花子" in shown
    assert "1階窓口の奥" in shown
    assert "高橋 課長" in shown  # the @mention
    _shot(thread, "urgent-thread.png")


def test_help_and_unsure_messages_never_get_a_refusal(pages: dict[str, Page]) -> None:
    staff = pages["staff"]
    staff.set_viewport_size(PHONE)

    before = send_message(staff, "助けて")
    card = wait_for_card_text(staff, ALERT, after=before)
    assert SAFETY_TITLE in card.inner_text()

    before = send_message(staff, "お客さんのことで相談です")
    card = wait_for_bot_text(staff, ASK_BACK, after=before)
    assert ALERT in card_actions(card)
    assert "電話・窓口での威圧や長時間の拘束" in card_actions(card)
    _assert_phone_sized(card)
    _shot(card, "ask-back-446.png")

    before = send_message(staff, "電話で1時間怒鳴られています")
    card = wait_for_card_text(staff, "モデル回答を見る", after=before)
    assert "電話・窓口での威圧や長時間の拘束" in card.inner_text()
    _assert_phone_sized(card)
    _shot(card, "guidance-phone-446.png")


def test_screenshots_are_kept_for_the_staff_guide() -> None:
    """The staff guide shows these images; the tests above refresh them."""
    guide = (REPO / "docs" / "guide-staff.ja.md").read_text(encoding="utf-8")
    for name in ("urgent-card-446.png", "ask-back-446.png", "guidance-phone-446.png"):
        assert f"images/{name}" in guide
        assert Path(IMAGES / name).exists()
