"""Short notice cards: talk to my manager, errors with a reference, stale buttons."""

from __future__ import annotations

from bot.domain.locale import Locale
from cards.elements import Element, card, container, execute, heading, next_steps, text
from cards.i18n import t
from cards.verbs import Verb


def manager_card(locale: Locale, *, playbook_id: str | None = None) -> Element:
    """How to bring in a manager: report, and what happens next."""
    return card(
        [heading(t("manager.title", locale), size="Large"), text(t("manager.body", locale))],
        next_steps(locale, playbook_id=playbook_id)[:1],
    )


def notice_card(title_key: str, body_key: str, locale: Locale) -> Element:
    """A titled notice with a way back to the menu."""
    return card(
        [heading(t(title_key, locale)), text(t(body_key, locale))],
        [execute(t("action.menu", locale), Verb.SHOW_MENU, locale)],
    )


def error_card(locale: Locale, reference: str) -> Element:
    """Something failed on our side: say so, give a reference id IT can find in the logs."""
    return card(
        [
            heading(t("error.title", locale)),
            text(t("error.body", locale)),
            text(t("error.reference", locale, reference=reference), size="Small", subtle=True),
        ],
        [execute(t("action.menu", locale), Verb.SHOW_MENU, locale)],
    )


def text_card(message: str) -> Element:
    """A card with one sentence (proactive notices)."""
    return card([text(message)])


def notice_element(key: str, locale: Locale) -> Element:
    """A highlighted one-line notice, to put at the top of another card."""
    return container([text(t(key, locale), weight="Bolder")], style="warning")
