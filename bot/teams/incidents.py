"""Incident reporting from Teams: the report form and its submission.

A form carries a fresh ``submission_id``; the store creates one incident per id,
so a double click or a retried invoke never opens a second case. It also carries
how the message that led to it was triaged (``TriageRecord``), which is stored
with the incident (registry kind ``triage``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState

from bot.domain.incidents import Incident
from bot.domain.locale import Locale
from bot.domain.matcher import Command
from bot.domain.playbooks import PlaybookLibrary
from bot.domain.ports import Clock, Registry, Store
from bot.domain.report import InvalidReport, parse_report
from bot.domain.triage import NONE, TRIAGE_RECORD, TriageRecord
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult
from bot.teams.identity import person_of
from bot.teams.replies import send_card
from cards.guidance import guidance_card
from cards.report import incident_summary_card, report_form_card
from cards.verbs import Verb

log = logging.getLogger(__name__)
CommandHandler = Callable[[TurnContext, Locale], Awaitable[None]]


def register(
    _app: AgentApplication[TurnState],
    actions: ActionDispatcher,
    library: PlaybookLibrary,
    store: Store,
    *,
    registry: Registry,
    clock: Clock,
    department_of: Callable[[str], Awaitable[str]],
    max_text: int,
    on_reported: Callable[[str, Locale], Awaitable[None]],
    extra_cards: Callable[[Incident, Locale], list[dict[str, Any]]] | None = None,
) -> dict[Command, CommandHandler]:
    """Add the reporting verbs; returns the typed commands this feature answers."""

    def new_form(
        locale: Locale, playbook_id: object = None, triage: TriageRecord | None = None
    ) -> dict[str, object]:
        values = {"type": playbook_id} if isinstance(playbook_id, str) else None
        return report_form_card(
            library,
            locale,
            submission_id=uuid.uuid4().hex,
            values=values,
            triage=triage or NONE,
        )

    @actions.on(Verb.REPORT_OPEN)
    async def open_report(_context: TurnContext, request: ActionRequest) -> ActionResult:
        playbook_id = request.data.get("playbook")
        triage = TriageRecord.from_data(request.data.get("triage"))
        form = new_form(request.locale, playbook_id, triage)
        playbook = library.get(playbook_id) if isinstance(playbook_id, str) else None
        if playbook is None:
            return ActionResult(replace=form)
        # From a guidance card: the guidance stays in view and the form arrives below it.
        return ActionResult(
            replace=guidance_card(playbook, request.locale, triage=triage), send=[form]
        )

    @actions.on(Verb.REPORT_SUBMIT)
    async def submit_report(_context: TurnContext, request: ActionRequest) -> ActionResult:
        try:
            form = parse_report(request.data, max_text=max_text)
        except InvalidReport as invalid:
            log.info("report form rejected: %s", ", ".join(p.field for p in invalid.problems))
            submission = request.data.get("submission_id")
            return ActionResult(
                replace=report_form_card(
                    library,
                    request.locale,
                    submission_id=submission
                    if isinstance(submission, str) and len(submission) >= 8
                    else uuid.uuid4().hex,
                    values=request.data,
                    problems=invalid.problems,
                    triage=TriageRecord.from_data(request.data.get("triage")),
                )
            )
        reporter = person_of(request.sender)
        # The case goes to the reporter's department: its managers decide it.
        department = await department_of(reporter.object_id)
        draft = form.to_draft(reporter=reporter, department=department)
        incident = await store.create_incident(draft, idempotency_key=form.submission_id)
        log.info("incident %s reported (type %s)", incident.id, incident.type.value)
        if await registry.get(TRIAGE_RECORD, incident.id) is None:  # a double click: kept once
            triage = TriageRecord.from_data(request.data.get("triage"))
            await registry.put(TRIAGE_RECORD, incident.id, triage.stored(clock.now()))
        # Idempotent too: a double click queues the escalation once.
        await on_reported(incident.id, request.locale)
        # Feature cards for this kind of case (SNS: how to protect yourself). From a channel
        # or group chat the dispatcher sends them to the personal chat, never to everyone
        # there (the summary replaces the form for the reporter alone).
        return ActionResult(
            replace=incident_summary_card(incident, library, request.locale),
            send=extra_cards(incident, request.locale) if extra_cards else [],
        )

    async def report_command(context: TurnContext, locale: Locale) -> None:
        await send_card(context, new_form(locale))

    return {Command.REPORT: report_command}
