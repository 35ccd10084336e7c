"""Incident cards: the report form, the confirmation summary and "my incidents"."""

from __future__ import annotations

from typing import Any

from bot.domain.incidents import Incident, IncidentType
from bot.domain.locale import Locale
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.report import MAX_COUNTERPART, MAX_WHAT_HAPPENED, FieldProblem
from bot.domain.triage import NONE, TriageRecord
from cards.elements import Element, card, container, execute, heading, plain, text, triage_data
from cards.i18n import t
from cards.verbs import Verb


def report_form_card(
    library: PlaybookLibrary,
    locale: Locale,
    *,
    submission_id: str,
    values: dict[str, Any] | None = None,
    problems: tuple[FieldProblem, ...] = (),
    triage: TriageRecord = NONE,
) -> Element:
    """The "report an incident" form; shown again with the values and problems if invalid.

    ``triage`` (how the message that led here was read; ``NONE`` when the form was
    opened by command) is submitted with the form and stored with the incident.
    """
    given = values or {}
    body: list[Element] = [heading(t("report.title", locale), size="Large")]
    if problems:
        body.append(
            container(
                [text("⚠️ " + (p.ja if locale is Locale.JA else p.en)) for p in problems],
                style="attention",
            )
        )
    body.append(text(t("report.intro", locale), subtle=True))
    types = [p for p in library if p.id in {k.value for k in IncidentType}]
    body += [
        {
            "type": "Input.ChoiceSet",
            "id": "type",
            "label": t("report.type", locale),
            "isRequired": True,
            "errorMessage": t("report.type.required", locale),
            "value": str(given.get("type") or (types[0].id if types else "")),
            "choices": [{"title": p.title(locale), "value": p.id} for p in types],
        },
        {
            "type": "Input.Text",
            "id": "what_happened",
            "label": t("report.what", locale),
            "placeholder": t("report.what.placeholder", locale),
            "isMultiline": True,
            "isRequired": True,
            "maxLength": MAX_WHAT_HAPPENED,
            "errorMessage": t("report.what.required", locale),
            "value": str(given.get("what_happened") or ""),
        },
        {
            "type": "Input.Text",
            "id": "counterpart",
            "label": t("report.counterpart", locale),
            "placeholder": "example@example.com / https://x.com/... / @account",
            "maxLength": MAX_COUNTERPART,
            "value": str(given.get("counterpart") or ""),
        },
        {
            "type": "Input.Date",
            "id": "started_on",
            "label": t("report.started", locale),
            "value": str(given.get("started_on") or ""),
        },
        {
            "type": "Input.Toggle",
            "id": "physical_threat",
            "title": t("report.threat", locale),
            "valueOn": "true",
            "valueOff": "false",
            "value": "true" if str(given.get("physical_threat")).lower() == "true" else "false",
        },
        text(t("report.privacy", locale), size="Small", subtle=True),
    ]
    actions = [
        execute(
            t("report.submit", locale),
            Verb.REPORT_SUBMIT,
            locale,
            submission_id=submission_id,
            **triage_data(triage),
        )
    ]
    return card(body, actions)


def incident_summary_card(incident: Incident, library: PlaybookLibrary, locale: Locale) -> Element:
    """The confirmation after reporting: the id, the state and what happens next."""
    playbook = library.get(incident.type.value)
    facts = [
        {"title": t("incident.id", locale), "value": incident.id},
        {"title": t("report.type", locale), "value": playbook.title(locale) if playbook else ""},
        {"title": t("incident.state", locale), "value": t(f"state.{incident.state}", locale)},
        {"title": t("incident.reported_at", locale), "value": _date(incident)},
    ]
    if not incident.counterparts.is_empty():
        c = incident.counterparts
        facts.append(
            {
                "title": t("report.counterpart", locale),
                "value": plain(
                    ", ".join((*c.emails, *c.sns_accounts, *c.urls)) or ", ".join(c.domains)
                ),
            }
        )
    body: list[Element] = [heading(t("incident.reported", locale, id=incident.id), size="Large")]
    if incident.physical_threat:
        body.append(
            container(
                [text("🚨 " + t("incident.threat", locale), weight="Bolder", color="Attention")],
                style="attention",
            )
        )
    body += [
        {"type": "FactSet", "facts": facts},
        text(plain(incident.summary[:600] + ("…" if len(incident.summary) > 600 else ""))),
        text(t("incident.next", locale)),
    ]
    actions = [execute(t("action.my_incidents", locale), Verb.MY_INCIDENTS, locale)]
    if playbook:
        actions.insert(
            0, execute(playbook.title(locale), Verb.SHOW_PLAYBOOK, locale, playbook=playbook.id)
        )
    return card(body, actions)


def _date(incident: Incident) -> str:
    from bot.domain.incidents import JST

    return incident.created_at.astimezone(JST).strftime("%Y-%m-%d %H:%M")
