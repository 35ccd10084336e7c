"""The 「上司にすぐ知らせる」 button in Teams: one click, every manager alerted
(bot/guidance/urgent.py)."""

from __future__ import annotations

import uuid

from microsoft_agents.hosting.core import TurnContext

from bot.domain.playbooks import PlaybookLibrary
from bot.domain.triage import TriageRecord
from bot.guidance.urgent import AlertRequest, UrgentAlerts
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult
from bot.teams.incidents import person_of
from cards.urgent import WHERE_INPUT, alert_sent_card
from cards.verbs import Verb

SAFETY_PLAYBOOK = "urgent-safety"


def register(actions: ActionDispatcher, alerts: UrgentAlerts, library: PlaybookLibrary) -> None:
    """Add the alert verb."""

    @actions.on(Verb.URGENT_ALERT)
    async def alert(_context: TurnContext, request: ActionRequest) -> ActionResult:
        where = request.data.get(WHERE_INPUT)
        alert_id = request.data.get("alert_id")
        outcome = await alerts.alert(
            AlertRequest(
                person=person_of(request.sender),
                where=where if isinstance(where, str) else "",
                # A card without an id (an old one) still alerts; it just is not deduplicated.
                alert_id=alert_id if isinstance(alert_id, str) and alert_id else uuid.uuid4().hex,
                locale=request.locale,
                triage=TriageRecord.from_data(request.data.get("triage")),
            )
        )
        playbook = library.get(SAFETY_PLAYBOOK)
        if playbook is None:  # a deployment without the safety playbook still confirms
            from cards.notices import text_card

            return ActionResult(replace=text_card(outcome.incident_id))
        return ActionResult(replace=alert_sent_card(playbook, request.locale, outcome))
