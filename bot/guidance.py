"""Answering a message with guidance: the one path shared by Teams and ``mamoru ask``.

Text → typed command, playbook or menu → card. No SDK here, so the CLI answers
exactly as the bot does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.domain.locale import Locale
from bot.domain.matcher import Command, Matcher
from bot.domain.playbooks import PlaybookLibrary
from cards.guidance import guidance_card
from cards.menu import MenuReason, menu_card
from cards.notices import manager_card

# Kana or CJK ideographs: the person writes Japanese, so Mamoru answers in Japanese.
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")


def choose_locale(tag: str | None, text: str = "") -> Locale:
    """The Teams locale decides; a message written in Japanese is always answered in Japanese."""
    if _JAPANESE.search(text[:2000]):
        return Locale.JA
    return Locale.from_tag(tag)


@dataclass(frozen=True, slots=True)
class Answer:
    """What Mamoru replies to one message."""

    card: dict[str, Any]
    playbook_id: str | None
    confidence: float
    command: Command | None = None

    def as_json(self) -> dict[str, Any]:
        """The ``mamoru ask --json`` shape."""
        return {"playbook": self.playbook_id, "confidence": self.confidence, "card": self.card}


class Guide:
    """Turns free text into the right card."""

    def __init__(self, library: PlaybookLibrary, matcher: Matcher) -> None:
        self.library = library
        self.matcher = matcher

    def answer(self, text: str | None, locale: Locale) -> Answer:
        """The card for ``text`` in ``locale``: guidance, a command's card, or the menu."""
        if not text or not text.strip():
            return Answer(menu_card(self.library, locale, MenuReason.EMPTY), None, 0.0)
        match = self.matcher.match(text)
        if match.command in (Command.HELP, Command.MENU):
            return Answer(
                menu_card(self.library, locale, MenuReason.ASKED), None, 1.0, match.command
            )
        if match.command is not None:
            # report / my incidents: the Teams layer handles them (they need the store).
            return Answer(manager_card(locale), None, 1.0, match.command)
        if match.playbook is not None:
            card = guidance_card(match.playbook, locale, confidence=match.confidence)
            return Answer(card, match.playbook.id, match.confidence)
        reason = MenuReason.UNSURE if match.confidence > 0 else MenuReason.OUT_OF_SCOPE
        return Answer(menu_card(self.library, locale, reason), None, match.confidence)
