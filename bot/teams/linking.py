"""The 「組織案件としてまとめる」 button on the managers' card."""

from __future__ import annotations

import logging

from microsoft_agents.hosting.core import TurnContext

from bot.cases.linked import LinkedCasesService, MergeRefused
from bot.domain.access import CaseAction, permits
from bot.domain.errors import IncidentNotFound
from bot.escalation import Escalations
from bot.teams.actions import ActionDispatcher, ActionRequest, ActionResult, InvalidAction
from bot.teams.incidents import person_of
from cards.elements import container, text
from cards.i18n import t
from cards.verbs import Verb

log = logging.getLogger(__name__)


def register(
    actions: ActionDispatcher, linked: LinkedCasesService, escalations: Escalations
) -> None:
    """Add the merge verb."""

    @actions.on(Verb.CASES_MERGE)
    async def merge(_context: TurnContext, request: ActionRequest) -> ActionResult:
        incident_id = request.data.get("incident")
        if not isinstance(incident_id, str) or not incident_id.startswith("KH-"):
            raise InvalidAction("This card does not refer to a case.")
        person = person_of(request.sender)
        viewer = await escalations.viewer(person)
        incident = await escalations.load(incident_id)
        if not permits(viewer, incident, CaseAction.SEE):
            raise IncidentNotFound(incident_id)  # the dispatcher's "not found" answer
        try:
            org = await linked.merge(incident_id, person, viewer)
            note = t("link.merged", request.locale, id=org.id, n=len(org.members))
        except MergeRefused as refused:
            org = None
            note = t(
                "link.merge.refused" if refused.reason == "own-case" else "link.merge.nothing",
                request.locale,
            )
        card = await escalations.card_for(incident_id, person, request.locale)
        card["body"].insert(1, container([text(note, weight="Bolder")], style="warning"))
        if org is not None:
            for member in org.members:
                await escalations.refresh_thread(member)
        return ActionResult(replace=card)
