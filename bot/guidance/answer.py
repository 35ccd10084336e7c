"""Answering a message with guidance: the one path shared by Teams and ``mamoru ask``.

Text → typed command, playbook, safety card, ask-back card or one friendly line.
No SDK here, so the CLI answers exactly as the bot does. Never a refusal: a
message that might be harassment and is not clear gets 「どれに近いですか？」.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from bot.domain.locale import Locale
from bot.domain.matcher import Command, Match, Matcher
from bot.domain.playbooks import Playbook, PlaybookLibrary
from bot.domain.triage import NOT_TRIAGED, Route, TriageRecord, Verdict
from cards.guidance import GuidanceParts, guidance_card, guidance_parts
from cards.menu import MenuReason, menu_card
from cards.notices import manager_card
from cards.urgent import urgent_card

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
    confidence: float  # for ``mamoru ask --json`` and tests; never shown to staff
    command: Command | None = None
    verdict: str = ""  # route / ask / unrelated / unreadable ("" for commands)
    model_id: str = ""

    def as_json(self) -> dict[str, Any]:
        """The ``mamoru ask --json`` shape."""
        return {
            "playbook": self.playbook_id,
            "verdict": self.verdict,
            "confidence": self.confidence,
            "model": self.model_id,
            "card": self.card,
        }


class Guide:
    """Turns free text into the right card."""

    def __init__(self, library: PlaybookLibrary, matcher: Matcher) -> None:
        self.library = library
        self.matcher = matcher
        # What a guidance card holds besides its buttons depends on the playbook and the
        # locale only: built once, frozen (read-only, so sharing it is safe, and the SDK's
        # deep copy of every outgoing card skips it).
        self._guidance_parts: dict[tuple[str, Locale], tuple[Playbook, GuidanceParts]] = {}

    def answer(self, text: str | None, locale: Locale) -> Answer:
        """The card for ``text`` in ``locale``: guidance, safety, a command, ask-back or a line."""
        alert_id = uuid.uuid4().hex
        if not text or not text.strip():
            card = menu_card(self.library, locale, MenuReason.EMPTY, alert_id=alert_id)
            return Answer(card, None, 0.0, verdict=Verdict.UNREADABLE.value)
        match = self.matcher.match(text)
        if match.command in (Command.HELP, Command.MENU):
            return Answer(
                menu_card(self.library, locale, MenuReason.ASKED), None, 1.0, match.command
            )
        if match.command is not None:
            # report / my incidents: the Teams layer handles them (they need the store).
            return Answer(manager_card(locale), None, 1.0, match.command)
        verdict = match.verdict.value
        if match.playbook is not None:
            return Answer(
                self.card_for(match.playbook, locale, triage=_record(match), alert_id=alert_id),
                match.playbook.id,
                match.confidence,
                verdict=Verdict.ROUTE.value,
                model_id=match.model_id,
            )
        reason = {
            Verdict.UNRELATED: MenuReason.OUT_OF_SCOPE,
            Verdict.UNREADABLE: MenuReason.EMPTY,
        }.get(match.verdict, MenuReason.UNSURE)
        card = menu_card(self.library, locale, reason, alert_id=alert_id, triage=_record(match))
        return Answer(card, None, match.confidence, verdict=verdict, model_id=match.model_id)

    def card_for(
        self,
        playbook: Playbook,
        locale: Locale,
        *,
        triage: TriageRecord | None = None,
        alert_id: str = "",
    ) -> dict[str, Any]:
        """The playbook's card: the safety card for the safety route, guidance otherwise.

        ``triage`` says how the message that led here was read; the card's buttons
        carry it on, so an incident reported from it stores it.
        """
        if playbook.id == Route.URGENT_SAFETY.value:
            alert = alert_id or uuid.uuid4().hex
            return urgent_card(playbook, locale, alert_id=alert, triage=triage)
        cached = self._guidance_parts.get((playbook.id, locale))
        if cached is None or cached[0] is not playbook:
            cached = (playbook, guidance_parts(playbook, locale))
            self._guidance_parts[(playbook.id, locale)] = cached
        return guidance_card(playbook, locale, triage=triage, parts=cached[1])


def _record(match: Match) -> TriageRecord:
    """How ``match`` was reached: the model's outcome, or "exact" for a name typed as is."""
    if not match.model_id:
        return TriageRecord(NOT_TRIAGED, "exact", None)
    outcome = match.playbook.id if match.playbook is not None else match.verdict.value
    return TriageRecord(match.model_id, outcome, match.confidence)
