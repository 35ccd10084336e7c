"""A staff member asks for help in the Agents Playground and follows the guidance card.

The issue's scenario, through the real client: Mamoru runs as ``mamoru serve``,
the Playground relays the chat, Chromium shows what the user would see.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.e2e.playground import (
    bot_message_count,
    card_actions,
    click_card_action,
    send_message,
    wait_for_card_title,
)

pytestmark = pytest.mark.e2e

SNS_MESSAGE = "Xで実名を出されて悪口を書かれています"
SNS_CARD_TITLE = "SNSでの名指し・誹謗中傷"  # bot/playbooks/sns-defamation.yaml, title.ja
SHOW_SCRIPTS = "モデル回答を見る"  # cards/i18n/ja.py, action.scripts
SCRIPTS_CARD_TITLE = "モデル回答・応対スクリプト"  # cards/i18n/ja.py, scripts.title
LEGAL_REMINDER = "法務"  # every guidance card reminds staff to check with the legal section
MENU_TITLE = "どのような状況ですか"  # cards/i18n/ja.py, menu.title


def test_sns_message_gets_the_sns_guidance_card_and_its_model_replies(page: Page) -> None:
    """「Xで実名を…」→ the SNS guidance card in Japanese → 「モデル回答を見る」→ model replies."""
    before = send_message(page, SNS_MESSAGE)

    card = wait_for_card_title(page, SNS_CARD_TITLE, after=before)
    card_text = card.inner_text()
    assert "SNS" in card_text or "誹謗中傷" in card_text
    assert LEGAL_REMINDER in card_text, "the card must remind staff to confirm with legal"
    assert SHOW_SCRIPTS in card_actions(card), f"actions shown: {card_actions(card)}"

    after_click = bot_message_count(page)
    click_card_action(page, SHOW_SCRIPTS, card=card)

    # The guidance stays in view and the model replies arrive as a new card below it.
    scripts = wait_for_card_title(page, SCRIPTS_CARD_TITLE, after=after_click)
    assert SNS_CARD_TITLE in scripts.inner_text()
    wait_for_card_title(page, SNS_CARD_TITLE, after=before)  # still shown, not an error card


def test_menu_command_shows_the_menu_card(page: Page) -> None:
    """The typed command 「メニュー」 answers with the menu card (a quick harness smoke test)."""
    before = send_message(page, "メニュー")
    card = wait_for_card_title(page, MENU_TITLE, after=before)
    assert card_actions(card), "the menu card offers no choice"
