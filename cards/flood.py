"""Flood watch cards: the proactive alert with its figures, and short notices."""

from __future__ import annotations

import datetime as dt

from bot.domain.flood import FloodFigures
from bot.domain.incidents import JST
from bot.domain.locale import Locale
from cards.elements import Element, card, container, execute, heading, text
from cards.i18n import t
from cards.verbs import Verb


def _when(at: dt.datetime) -> str:
    return at.astimezone(JST).strftime("%m/%d %H:%M")


def flood_alert_card(
    mailbox: str, figures: FloodFigures, locale: Locale, *, alert_id: str, for_managers: bool
) -> Element:
    """The alert: what to do now, the figures, 「証拠保全を始める」 and 「問題ない」."""
    count = lambda n: t("flood.count", locale, n=n)  # noqa: E731
    facts = [
        {"title": t("flood.sender", locale), "value": figures.sender},
        {"title": t("flood.last_hour", locale), "value": count(figures.last_hour)},
        {"title": t("flood.last_day", locale), "value": count(figures.last_day)},
        {"title": t("flood.same_subject", locale), "value": count(figures.same_subject)},
        {"title": t("flood.since", locale), "value": _when(figures.first_at)},
        {"title": t("flood.mailbox", locale), "value": mailbox},
    ]
    suffix = ".managers" if for_managers else ""
    body: list[Element] = [
        heading(t("flood.title" + suffix, locale), size="Large"),
        container([text(t("flood.now" + suffix, locale), weight="Bolder")], style="warning"),
        {"type": "FactSet", "facts": facts},
        text(t("flood.privacy", locale), size="Small", subtle=True),
    ]
    data = {"mailbox": mailbox, "sender": figures.sender, "alert": alert_id}
    return card(
        body,
        [
            {
                **execute(t("flood.start", locale), Verb.FLOOD_START, locale, **data),
                "style": "positive",
            },
            execute(t("flood.dismiss", locale), Verb.FLOOD_DISMISS, locale, **data),
        ],
    )


def flood_summary(mailbox: str, figures: FloodFigures, locale: Locale) -> str:
    """The prefilled "what happened" of a case started from an alert (figures only)."""
    return t(
        "flood.summary",
        locale,
        sender=figures.sender,
        hour=figures.last_hour,
        day=figures.last_day,
        same=figures.same_subject,
        since=_when(figures.first_at),
        mailbox=mailbox,
    )


def flood_notice_card(key: str, locale: Locale, mailbox: str = "", sender: str = "") -> Element:
    """A one-paragraph notice (dismissed, stopped watching, not yours)."""
    return card([text(t(key, locale, mailbox=mailbox, sender=sender))])
