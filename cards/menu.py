"""The menu card (and the welcome card): pick a situation instead of Mamoru guessing."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.locale import Locale
from bot.domain.playbooks import PlaybookLibrary
from cards.elements import Element, card, execute, heading, text
from cards.i18n import t
from cards.verbs import Verb


class MenuReason(StrEnum):
    """Why the menu is shown; decides the sentence above it."""

    ASKED = "asked"  # the user typed "menu" / "help"
    UNSURE = "unsure"  # harassment-related, but no playbook was clear enough
    OUT_OF_SCOPE = "out_of_scope"  # nothing to do with harassment
    EMPTY = "empty"  # no text at all


_INTRO_KEY = {
    MenuReason.ASKED: "menu.intro",
    MenuReason.UNSURE: "menu.unsure",
    MenuReason.OUT_OF_SCOPE: "menu.out_of_scope",
    MenuReason.EMPTY: "menu.empty",
}


def menu_card(library: PlaybookLibrary, locale: Locale, reason: MenuReason) -> Element:
    """A short explanation and one button per playbook, plus report and help hints."""
    body = [
        heading(t("menu.title", locale), size="Large"),
        text(t(_INTRO_KEY[reason], locale)),
    ]
    if reason is MenuReason.ASKED:
        body.append(text(t("help.commands", locale), size="Small", subtle=True))
    actions = [execute(p.title(locale), Verb.SHOW_PLAYBOOK, locale, playbook=p.id) for p in library]
    actions.append(execute(t("action.report", locale), Verb.REPORT_OPEN, locale))
    return card(body, actions)


def welcome_card(library: PlaybookLibrary, locale: Locale) -> Element:
    """Shown once when Mamoru is installed in a personal chat."""
    body = [
        heading(t("welcome.title", locale), size="Large"),
        text(t("welcome.body", locale)),
        text("🔒 " + t("welcome.privacy", locale), size="Small", subtle=True),
        text(t("help.commands", locale), size="Small", subtle=True),
    ]
    actions = [execute(p.title(locale), Verb.SHOW_PLAYBOOK, locale, playbook=p.id) for p in library]
    return card(body, actions)
