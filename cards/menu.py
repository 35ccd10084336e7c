"""The menu, the ask-back card and the welcome card: pick a situation instead of Mamoru guessing.

The routes are listed with the safety route first, and every card that might be
read by someone in trouble (ask-back, unreadable message) also offers
「上司にすぐ知らせる」, the one-tap alert to the managers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.domain.locale import Locale
from bot.domain.playbooks import Playbook, PlaybookLibrary
from bot.domain.triage import TriageRecord
from cards.elements import Element, card, execute, heading, stacked, text, triage_data
from cards.i18n import t
from cards.verbs import Verb

SAFETY_ROUTE = "urgent-safety"


class MenuReason(StrEnum):
    """Why the menu is shown; decides the sentence above it."""

    ASKED = "asked"  # the user typed "menu" / "help"
    UNSURE = "unsure"  # maybe harassment, no route clear enough: ask back
    OUT_OF_SCOPE = "out_of_scope"  # nothing to do with harassment: one friendly line
    EMPTY = "empty"  # no text, or nothing readable (only emoji, symbols)


def routes(library: PlaybookLibrary) -> list[Playbook]:
    """The playbooks in menu order: the safety route first, the others as shipped."""
    return sorted(library, key=lambda p: p.id != SAFETY_ROUTE)


def menu_card(
    library: PlaybookLibrary,
    locale: Locale,
    reason: MenuReason,
    *,
    alert_id: str = "",
    triage: TriageRecord | None = None,
) -> Element:
    """The card for ``reason``; ``alert_id`` makes a repeated alert click count once."""
    if reason is MenuReason.OUT_OF_SCOPE:
        return card(
            [text(t("menu.out_of_scope", locale))],
            [execute(t("action.menu", locale), Verb.SHOW_MENU, locale)],
        )
    if reason is MenuReason.ASKED:
        body = [
            heading(t("menu.title", locale), size="Large"),
            text(t("menu.intro", locale)),
            *stacked(_route_buttons(library, locale)),
            *stacked([execute(t("action.report", locale), Verb.REPORT_OPEN, locale)]),
            text(t("help.commands", locale), size="Small", subtle=True),
        ]
        return card(body)
    intro = "menu.unsure" if reason is MenuReason.UNSURE else "menu.empty"
    return card(
        [
            heading(t("menu.ask_title", locale), size="Large"),
            text(t(intro, locale)),
            *stacked(_route_buttons(library, locale, triage)),
            # Customer harassment is Mamoru's scope; someone hurt by colleagues is not
            # turned away without knowing where to go.
            text(t("menu.elsewhere", locale), size="Small", subtle=True),
            text(t("menu.alert_hint", locale), size="Small", subtle=True, separator=True),
            *stacked([alert_button(locale, alert_id, triage=triage)]),
        ]
    )


def alert_button(
    locale: Locale,
    alert_id: str,
    *,
    playbook: str | None = None,
    triage: TriageRecord | None = None,
) -> Element:
    """「上司にすぐ知らせる」: one tap posts an urgent thread and tells every manager.

    ``triage`` (how the message was read) is kept with the incident.
    """
    data: dict[str, Any] = {"alert_id": alert_id} if alert_id else {}
    if playbook:
        data["playbook"] = playbook
    data |= triage_data(triage)
    button = execute(t("urgent.alert", locale), Verb.URGENT_ALERT, locale, **data)
    button["style"] = "destructive"
    return button


def _route_buttons(
    library: PlaybookLibrary, locale: Locale, triage: TriageRecord | None = None
) -> list[Element]:
    return [
        execute(p.title(locale), Verb.SHOW_PLAYBOOK, locale, playbook=p.id, **triage_data(triage))
        for p in routes(library)
    ]


def welcome_card(library: PlaybookLibrary, locale: Locale) -> Element:
    """Shown once when Mamoru is installed in a personal chat."""
    body = [
        heading(t("welcome.title", locale), size="Large"),
        text(t("welcome.body", locale)),
        text(t("welcome.privacy", locale), size="Small", subtle=True),
        text(t("help.commands", locale), size="Small", subtle=True),
        *stacked(_route_buttons(library, locale)),
    ]
    return card(body)
