"""The safety cards: what to do in the next minute, the one-tap alert, and what managers see.

The staff member's card puts nothing before the next minute's steps: move away,
do not go out alone, 110, the nearest colleague, then 「上司にすぐ知らせる」 with
an optional "where are you?". Care and the occupational physician come after, one
tap away, never first. The managers' thread @mentions every manager (Teams mention
entities in the card) and names who is in danger and where.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.locale import Locale
from bot.domain.playbooks import Playbook
from bot.domain.triage import TriageRecord
from cards.elements import (
    Element,
    bullets,
    card,
    container,
    execute,
    heading,
    legal_reminder,
    show_card,
    stacked,
    text,
    triage_data,
)
from cards.guidance import FIRST_SCREEN_STEPS, details
from cards.i18n import t
from cards.menu import alert_button
from cards.verbs import Verb

WHERE_INPUT = "where"
MAX_WHERE_CHARS = 200


def urgent_card(
    playbook: Playbook, locale: Locale, *, alert_id: str, triage: TriageRecord | None = None
) -> Element:
    """The first card for someone who may be in danger."""
    body: list[Element] = [
        container(
            [
                heading(playbook.title(locale), size="Large"),
                bullets(
                    [step(locale) for step in playbook.checklist[:FIRST_SCREEN_STEPS]],
                    numbered=True,
                ),
            ],
            style="attention",
        ),
        {
            "type": "Input.Text",
            "id": WHERE_INPUT,
            "label": t("urgent.where", locale),
            "placeholder": t("urgent.where_placeholder", locale),
            "maxLength": MAX_WHERE_CHARS,
        },
        *stacked([alert_button(locale, alert_id, playbook=playbook.id, triage=triage)]),
        text(t("urgent.call_110", locale), weight="Bolder"),
        *stacked(_after_actions(playbook, locale, triage)),
        legal_reminder(locale),
    ]
    return card(body)


def _after_actions(
    playbook: Playbook, locale: Locale, triage: TriageRecord | None = None
) -> list[Element]:
    return [
        show_card(t("urgent.after", locale), [text(t("urgent.after_body", locale))]),
        execute(
            t("action.scripts", locale),
            Verb.SHOW_SCRIPTS,
            locale,
            playbook=playbook.id,
            **triage_data(triage),
        ),
        *details(playbook, locale),
    ]


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """What the alert reached, for the staff member's confirmation."""

    incident_id: str
    channel_posted: bool
    managers_told: int


def alert_sent_card(playbook: Playbook, locale: Locale, outcome: AlertOutcome) -> Element:
    """The staff member's card after pressing the alert: who knows, and the steps again."""
    if not outcome.channel_posted and not outcome.managers_told:
        status = t("urgent.not_sent", locale, id=outcome.incident_id)
        style = "attention"
    elif outcome.managers_told:
        status = t("urgent.sent_body", locale, count=outcome.managers_told, id=outcome.incident_id)
        style = "good"
    else:
        status = t("urgent.sent_no_managers", locale, id=outcome.incident_id)
        style = "good"
    body: list[Element] = [
        container(
            [heading(t("urgent.sent_title", locale), size="Large"), text(status)], style=style
        ),
        bullets([step(locale) for step in playbook.checklist[:FIRST_SCREEN_STEPS]], numbered=True),
        text(t("urgent.call_110", locale), weight="Bolder"),
        *stacked(_after_actions(playbook, locale)),
    ]
    return card(body)


@dataclass(frozen=True, slots=True)
class Mentioned:
    """A manager to @mention in the thread: Teams user id and display name."""

    teams_id: str
    name: str


def urgent_thread_card(
    *,
    staff_name: str,
    where: str,
    at: str,
    incident_id: str,
    managers: list[Mentioned],
    locale: Locale,
) -> Element:
    """The managers' URGENT thread: who, where, when, the three things to do, @mentions."""
    where_line = (
        t("urgent.thread_where", locale, where=where)
        if where
        else t("urgent.thread_where_unknown", locale)
    )
    body: list[Element] = [
        container(
            [
                heading(t("urgent.thread_title", locale), size="Large"),
                text(t("urgent.thread_body", locale, name=staff_name), weight="Bolder"),
                text(where_line, weight="Bolder"),
                text(t("urgent.thread_when", locale, at=at, id=incident_id), size="Small"),
            ],
            style="attention",
        ),
        text(t("urgent.thread_steps", locale)),
    ]
    extra = {}
    if managers:
        body.append(text(" ".join(f"<at>{m.name}</at>" for m in managers)))
        extra["msteams"] = {
            "entities": [
                {
                    "type": "mention",
                    "text": f"<at>{m.name}</at>",
                    "mentioned": {"id": m.teams_id, "name": m.name},
                }
                for m in managers
            ]
        }
    return card(body, **extra)


def manager_alert_card(*, staff_name: str, where: str, incident_id: str, locale: Locale) -> Element:
    """The personal message each manager receives."""
    where_line = (
        t("urgent.thread_where", locale, where=where)
        if where
        else t("urgent.thread_where_unknown", locale)
    )
    return card(
        [
            container(
                [
                    text(
                        t(
                            "urgent.dm_body",
                            locale,
                            name=staff_name,
                            where=where_line,
                            id=incident_id,
                        ),
                        weight="Bolder",
                    )
                ],
                style="attention",
            )
        ]
    )
